"""A search request, parsed and checked once: ``SearchParams`` (what a caller received, HTTP
query parameters or CLI arguments alike) -> ``parse_search_request`` -> ``SearchRequest``.

This is the only place that validates a request's fields. Errors are ``InvalidQuery`` (or
``LimitExceeded`` for a number past a limit) and name the parameter as the caller spells it
(``k`` over HTTP, ``--k`` on the command line) and the setting that raises a limit. The legacy
``locale`` parameter (before cross-lingual recall it was both the query's language and the only
products eligible) is mapped here and nowhere else.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from catalog.locales import canonical_locale, language_of
from search.errors import InvalidQuery, LimitExceeded
from search.pipeline.config import RecallMode
from search.query.normalize import normalize_query
from search.recall import SearchFilters, brand_key
from search.recall.facets import FACETS
from search.settings import Settings

SORTS: tuple[str, ...] = ("relevance", "price_asc", "price_desc", "newest")
RECALL_MODES: tuple[str, ...] = ("bm25", "dense", "hybrid")
MAX_K = 1000  # the most results (and candidates) one search considers
# How the command line spells the parameters whose CLI name differs from the HTTP one.
CLI_NAMES: Mapping[str, str] = {
    "q": "query", "k": "--k", "size": "--k", "price": "--price",
    "min_price": "--min-price", "max_price": "--max-price",
}  # fmt: skip


@dataclass(frozen=True)
class SearchParams:
    """A search's parameters as received, nothing checked yet (names as in ``GET /search``).
    ``blend`` and ``recall_k`` are an experiment variant's options (or ``shelf search
    --recall-k``)."""

    q: str
    k: int | None = None
    page: int | None = None
    size: int | None = None
    sort: str | None = None
    facets: str | Sequence[str] | None = None
    lang: str | None = None
    locale: str | None = None  # legacy: both lang and product_locale
    product_locale: str | None = None
    recall: str | None = None
    category: str | None = None
    brand: str | None = None
    min_price: float | None = None
    max_price: float | None = None
    in_stock: bool | None = None
    price: str | None = None  # a price facet value, LOW-HIGH or LOW-
    rerank: bool = True
    blend: float | None = None
    recall_k: int | None = None


@dataclass(frozen=True)
class RequestPolicy:
    """The limits a caller's requests are checked against, and how its errors name things.

    ``settings_named``: limit errors name the ``SHELF_API_*`` setting that raises them.
    ``head_holds_k``: without pages, the first ``k`` are all reranked (the rerank window is at
    least ``k``), as ``shelf search --k`` has always done; ``GET /search`` keeps its window and
    continues in recall order."""

    max_k: int = MAX_K
    max_page_size: int = MAX_K
    max_result_window: int = 10_000
    max_query_chars: int = 500
    max_query_bytes: int = 1024
    settings_named: bool = False
    head_holds_k: bool = True
    names: Mapping[str, str] = field(default_factory=lambda: {"q": "query"})

    def name(self, parameter: str) -> str:
        """How the caller spells ``parameter``."""
        return self.names.get(parameter, parameter)


@dataclass(frozen=True)
class SearchRequest:
    """One checked search: the normalised query text, the filters (which products are
    eligible), the sort, the 1-based page of ``size`` items (``paged``: the caller walks pages
    rather than asking for the top ``size``), the facets to count, the recall legs (None: the
    service's), whether to rerank, the query's language code (None: detected), the rerank
    window (None: the service's; ``window_holds_page``: at least ``size``) and BM25's weight in
    the final score (0 to 1)."""

    query: str
    filters: SearchFilters = field(default_factory=SearchFilters)
    sort: str = "relevance"
    page: int = 1
    size: int = 10
    paged: bool = False
    facets: tuple[str, ...] = ()
    recall_mode: RecallMode | None = None
    rerank: bool = True
    query_language: str | None = None
    recall_k: int | None = None
    window_holds_page: bool = False
    blend: float = 0.0

    @property
    def relevance(self) -> bool:
        """Relevance order (the reranked head, rules applied), not a sort by one field."""
        return self.sort == "relevance"

    def window(self, default: int) -> int:
        """The rerank window: ``recall_k``, else ``default``; at least ``size`` when
        ``window_holds_page``."""
        window = self.recall_k or default
        return max(window, self.size) if self.window_holds_page else window


def http_policy(settings: Settings) -> RequestPolicy:
    """``GET /search``'s limits (``SHELF_API_MAX_*``), named in its errors."""
    return dataclasses.replace(
        _shared_limits(settings), max_k=settings.api_max_k,
        max_page_size=settings.api_max_page_size, settings_named=True, head_holds_k=False,
        names={},
    )  # fmt: skip


def cli_policy(settings: Settings) -> RequestPolicy:
    """``shelf search``'s limits, its errors naming its options (``--k``)."""
    return dataclasses.replace(_shared_limits(settings), names=CLI_NAMES)


def _shared_limits(settings: Settings) -> RequestPolicy:
    """The library's policy with the limits every caller shares: the result window and the
    query's length."""
    return RequestPolicy(
        max_result_window=settings.api_max_result_window,
        max_query_chars=settings.api_max_query_chars,
        max_query_bytes=settings.api_max_query_bytes,
    )


def parse_search_request(
    params: SearchParams, policy: RequestPolicy | None = None
) -> SearchRequest:
    """``params`` checked under ``policy`` (default: the library's, ``MAX_K``) into a request.

    Raises ``LimitExceeded`` for a query, ``k``, ``size`` or page past its limit and
    ``InvalidQuery`` for any other bad value, each naming the parameter."""
    policy = policy or RequestPolicy()
    check_query_length(
        params.q, policy.name("q"), max_chars=policy.max_query_chars,
        max_bytes=policy.max_query_bytes,
    )  # fmt: skip
    text = query_text(params.q)
    if params.locale is not None and params.product_locale is not None:
        raise InvalidQuery(
            "locale and product_locale both restrict the products: give product_locale (and "
            "lang for the query's language) only"
        )
    filters = _filters(params, policy)
    sort = parse_sort(params.sort)
    facets = parse_facets(params.facets)
    paged = any(
        value is not None for value in (params.page, params.size, params.sort, params.facets)
    ) or bool(params.price)
    if params.k is not None:
        _check_range("k", params.k, policy.max_k, "SHELF_API_MAX_K", policy)
    if params.size is not None:
        _check_range("size", params.size, policy.max_page_size, "SHELF_API_MAX_PAGE_SIZE", policy)
    size = params.size if params.size is not None else params.k if params.k is not None else 10
    page = 1 if params.page is None else params.page
    check_window(page, size, policy.max_result_window)
    request = SearchRequest(
        query=text,
        filters=filters,
        sort=sort,
        page=page,
        size=size,
        paged=paged,
        facets=facets,
        recall_mode=_recall_mode(params.recall),
        rerank=params.rerank,
        query_language=_language(params.lang or params.locale),
        window_holds_page=not paged and policy.head_holds_k,  # the first k: the reranked head
    )
    return variant_request(request, recall_k=params.recall_k, blend=params.blend)


def search_request(q: str, policy: RequestPolicy | None = None, **params: object) -> SearchRequest:
    """``parse_search_request(SearchParams(q, **params), policy)``: a request in one call."""
    return parse_search_request(SearchParams(q, **params), policy)  # type: ignore[arg-type]


def variant_request(
    request: SearchRequest,
    *,
    recall_k: int | None = None,
    rerank: bool | None = None,
    blend: float | None = None,
) -> SearchRequest:
    """``request`` with an experiment variant's options: its rerank window (None: keep),
    ``rerank=False`` (None: keep) and blend (None: keep), each checked."""
    if blend is not None and not 0.0 <= blend <= 1.0:
        raise InvalidQuery(f"blend must be between 0 and 1 (got {blend})")
    if recall_k is not None and not 1 <= recall_k <= MAX_K:
        raise InvalidQuery(f"recall_k must be between 1 and {MAX_K} (got {recall_k})")
    return dataclasses.replace(
        request,
        recall_k=request.recall_k if recall_k is None else recall_k,
        rerank=request.rerank and rerank is not False,
        blend=request.blend if blend is None else blend,
    )


def query_text(raw: str) -> str:
    """``raw`` normalised (``search.query.normalize.normalize_query``); ``InvalidQuery`` when no
    word is left."""
    text = normalize_query(raw)
    if not text:
        raise InvalidQuery("query is empty: type some words to search for")
    return text


def check_query_length(text: str, name: str, *, max_chars: int, max_bytes: int) -> None:
    """``LimitExceeded`` naming ``name`` (the parameter) and the setting that raises the limit
    when ``text`` is over ``max_chars`` characters or ``max_bytes`` UTF-8 bytes."""
    if len(text) > max_chars:
        raise LimitExceeded(
            f"{name} is {len(text)} characters; the limit is {max_chars} "
            "(SHELF_API_MAX_QUERY_CHARS)"
        )
    size = len(text.encode("utf-8", errors="surrogatepass"))
    if size > max_bytes:
        raise LimitExceeded(
            f"{name} is {size} bytes in UTF-8; the limit is {max_bytes} (SHELF_API_MAX_QUERY_BYTES)"
        )


def parse_sort(value: str | None) -> str:
    """``value`` checked against ``SORTS`` (None: relevance); ``InvalidQuery`` names both."""
    if value is None or value == "":
        return "relevance"
    if value not in SORTS:
        raise InvalidQuery(f"sort must be one of {', '.join(SORTS)} (got {value!r})")
    return value


def parse_facets(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """A comma-separated list of facet names (or a list of them), checked against ``FACETS``,
    in ``FACETS`` order; ``InvalidQuery`` names the unknown ones and the allowed names."""
    if value is None:
        return ()
    parts = value.split(",") if isinstance(value, str) else list(value)
    names = {part.strip() for part in parts if part.strip()}
    unknown = sorted(names - set(FACETS))
    if unknown:
        raise InvalidQuery(
            f"facets must be a comma-separated list of {', '.join(FACETS)} "
            f"(unknown: {', '.join(repr(u) for u in unknown)})"
        )
    return tuple(name for name in FACETS if name in names)


def check_window(page: int, size: int, max_window: int) -> None:
    """``LimitExceeded`` naming ``page``, the pages allowed at this ``size`` and
    ``SHELF_API_MAX_RESULT_WINDOW`` when ``page`` is below 1 or ends past the window."""
    last = max(max_window // max(size, 1), 1)
    if page < 1:
        raise LimitExceeded(f"page must be between 1 and {last} at size {size}; got {page}")
    if page > last or page * size > max_window:
        raise LimitExceeded(
            f"page must be between 1 and {last} at size {size}: a page may not reach past "
            f"result {max_window} (SHELF_API_MAX_RESULT_WINDOW); got {page}. Narrow the query "
            "with filters to see further"
        )


def parse_price_bucket(value: str) -> tuple[float, float | None]:
    """``"25-50"`` -> ``(25.0, 50.0)`` (25 <= price < 50); ``"500-"`` -> ``(500.0, None)``.
    ``InvalidQuery`` names the parameter and the form when ``value`` is not one."""
    lo_text, sep, hi_text = value.strip().partition("-")
    try:
        lo = float(lo_text)
        hi = float(hi_text) if hi_text.strip() else None
    except ValueError:
        lo, hi, sep = -1.0, None, ""
    finite = lo == lo and lo != float("inf") and (hi is None or hi == hi and hi != float("inf"))
    if not sep or not finite or lo < 0 or (hi is not None and hi <= lo):
        raise InvalidQuery(
            f"price must be a price facet value LOW-HIGH (LOW <= price < HIGH, e.g. 25-50) or "
            f"LOW- (e.g. 500-), as the price facet lists them (got {value!r})"
        )
    return lo, hi


def _filters(params: SearchParams, policy: RequestPolicy) -> SearchFilters:
    """The eligibility filters: ``product_locale`` (or the legacy ``locale``), category, brand,
    stock, and the price as min_price/max_price or a facet bucket (not both)."""
    low: float | None = params.min_price
    high: float | None = params.max_price
    below: float | None = None
    if params.price:
        if params.min_price is not None or params.max_price is not None:
            raise InvalidQuery(
                f"{policy.name('price')} (a facet bucket) and {policy.name('min_price')}/"
                f"{policy.name('max_price')} both bound the price: give one of them"
            )
        low, below = parse_price_bucket(params.price)
    locale = params.product_locale or params.locale
    if locale is not None:
        try:  # a bare language is a BCP-47 tag too
            locale = canonical_locale(locale)
        except ValueError as exc:
            raise InvalidQuery(str(exc)) from None
    if params.brand is not None and not brand_key(params.brand):
        raise InvalidQuery("brand must name a brand (got an empty value)")
    for name, value in (("min_price", low), ("max_price", high), ("price_below", below)):
        if value is not None and not value >= 0:
            raise InvalidQuery(f"{name} must be a non-negative number (got {value})")
    if low is not None and high is not None and low > high:
        raise InvalidQuery(f"min_price {low} is above max_price {high}")
    if low is not None and below is not None and low >= below:
        raise InvalidQuery(f"the price range starts at {low}, not below its end")
    return SearchFilters(
        locale=locale,
        category=params.category,
        brand=params.brand,
        min_price=low,
        max_price=high,
        in_stock=params.in_stock,
        price_below=below,
    )


def _recall_mode(asked: str | None) -> RecallMode | None:
    if asked is None:
        return None
    if asked not in RECALL_MODES:
        raise InvalidQuery(f"recall must be one of {', '.join(RECALL_MODES)} (got {asked!r})")
    return asked  # type: ignore[return-value]


def _language(stated: str | None) -> str | None:
    """The stated query language's code; any locale Shelf takes (a supported language, its
    script) is accepted, and ``InvalidQuery`` names ``lang`` otherwise."""
    if not stated:
        return None
    try:
        return language_of(canonical_locale(stated)).code
    except ValueError as exc:
        raise InvalidQuery(f"lang: {exc}") from None


def _check_range(
    parameter: str, value: int, limit: int, setting: str, policy: RequestPolicy
) -> None:
    if not 1 <= value <= limit:
        named = f" ({setting})" if policy.settings_named else ""
        raise LimitExceeded(
            f"{policy.name(parameter)} must be between 1 and {limit}{named}; got {value}"
        )
