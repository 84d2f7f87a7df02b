"""The result set a storefront pages through: the match set's total, facets, sort and pages,
above the Recall seam, once for both backends.

Relevance order is the reranked head (the first ``rerank window`` candidates, the pipeline's
answer) followed by the rest of the match set in recall order: weighted RRF of the lexical leg
(every lexical match by BM25, ties by id) and the dense leg (every neighbour above the match
floor by cosine, ties by id), ties by id. Every page recomputes the same head and the same rest,
so page N+1 continues page N whether page N came from the score cache or not. Other sorts order
the whole match set by one field, ties by id, and are not reranked.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from catalog.product import Product
from search.errors import InvalidQuery, LimitExceeded
from search.merchandising.apply import NOTHING, RuleSet
from search.merchandising.languages import known_languages
from search.pipeline.service import SearchItem, SearchPipeline, SearchResponse
from search.recall import SearchFilters
from search.recall.facets import FACETS, FacetCounts, MatchEntry, MatchQuery
from search.results.pages import boost_head, merge_page, pinned_item

SORTS: tuple[str, ...] = ("relevance", "price_asc", "price_desc", "newest")


@dataclass
class ResultPage:
    """One page of a result set, and the set's size and facets. ``total_exact`` False means
    ``total`` is a lower bound (as Elasticsearch's ``"relation": "gte"``)."""

    response: SearchResponse  # how the head was made (language, rerank, timings)
    items: list[SearchItem]
    total: int
    total_exact: bool
    page: int
    size: int
    sort: str
    has_more: bool
    facets: FacetCounts = field(default_factory=dict)
    rules: tuple[str, ...] = ()  # the merchandising rules the query met


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


def search_page(
    pipeline: SearchPipeline,
    query: str,
    *,
    page: int = 1,
    size: int = 10,
    sort: str = "relevance",
    facets: Sequence[str] = (),
    filters: SearchFilters | None = None,
    query_language: str | None = None,
    recall_mode: str | None = None,
    rerank: bool = True,
    blend: float = 0.0,
    recall_k: int | None = None,
    max_result_window: int = 10_000,
    price_edges: Sequence[float] = (10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0),
    max_facet_values: int = 100,
    rules: RuleSet | None = None,
    now: dt.datetime | None = None,
) -> ResultPage:
    """Page ``page`` (1-based, ``size`` items) of the match set of ``query`` under ``filters``
    in ``sort`` order, with its total and the ``facets`` asked for (disjunctive counts).

    ``recall_k`` is the rerank window (default the pipeline's). ``rules`` (merchandising) are
    matched at ``now`` (default the clock) and applied after reranking
    (``search.results.pages``). Raises ``InvalidQuery`` for an
    unknown sort or facet and ``LimitExceeded`` for a page past ``max_result_window``.
    """
    sort = parse_sort(sort)
    facets = parse_facets(facets)
    if size < 1:
        raise LimitExceeded(f"size must be 1 or more (got {size})")
    check_window(page, size, max_result_window)
    window = recall_k or pipeline.recall_k
    plan = pipeline.plan(
        query, filters=filters, query_language=query_language, recall_mode=recall_mode
    )
    relevance = sort == "relevance"
    response = pipeline.search(
        plan.text, k=window, recall_k=window, rerank=rerank and relevance, blend=blend, plan=plan
    )
    started = time.perf_counter()
    merch = NOTHING
    if rules is not None and len(rules):
        # Not plan.analyze_as: a short query is analysed as every candidate language.
        languages = known_languages(
            plan.text, stated=bool(query_language), analyze_as=plan.analyze_as,
            detected=plan.detected, filter_language=plan.filters.language,
        )  # fmt: skip
        merch = rules.plan(plan.text, languages, now or dt.datetime.now(dt.UTC))
    hidden = tuple(sorted(merch.hidden))
    pins = list(merch.pins) if relevance else []
    neighbours: list[tuple[str, float]] = []
    cut = False
    if plan.vector is not None and plan.mode != "bm25":
        neighbours, cut = pipeline.recall.dense_neighbours(
            plan.vector, pipeline.match_floor, SearchFilters(locale=plan.filters.locale),
            pipeline.match_cap,
        )  # fmt: skip
    match = MatchQuery(
        text=plan.text if plan.mode != "dense" else None,
        analyze_as=plan.analyze_as,
        neighbours=tuple(product_id for product_id, _ in neighbours),
        filters=plan.filters,
        excluded=hidden,
        lexical=plan.lexical,
    )
    if pins:  # only those that pass the filters (and are not hidden) are shown
        pinned_query = MatchQuery(
            None, None, tuple(p[1] for p in pins), plan.filters, excluded=hidden
        )
        eligible = {e.product_id for e in pipeline.recall.match_entries(pinned_query)}
        pins = [pin for pin in pins if pin[1] in eligible]
    pin_ids = tuple(sorted(p[1] for p in pins))
    organic_match = dataclasses.replace(match, excluded=tuple(sorted({*hidden, *pin_ids})))
    raw_head = response.items
    head = [item for item in raw_head if item.product_id not in merch.hidden]
    head = boost_head([i for i in head if i.product_id not in pin_ids], merch, pipeline.recall)
    if not raw_head:  # nothing lexical and nothing close enough: an empty set, whatever relaxed
        organic_total, exact = 0, True
    else:
        organic_total, exact = pipeline.recall.match_count(organic_match)
        organic_total, exact = max(organic_total, len(head)), exact and not cut
    total = organic_total + len(pins)
    counts: FacetCounts = {}
    if facets:
        facets_started = time.perf_counter()
        counted = match  # pinned products count like members
        if pin_ids:
            counted = dataclasses.replace(match, neighbours=(*match.neighbours, *pin_ids))
        counts = pipeline.recall.facet_counts(
            counted, facets, price_edges=price_edges, max_values=max_facet_values
        )
        response.timings_ms["facets"] = round((time.perf_counter() - facets_started) * 1000, 3)
    start, end = (page - 1) * size, page * size

    def organic(a: int, b: int) -> list[SearchItem]:  # positions a..b of the organic order
        if not raw_head or a >= organic_total or b <= a:
            return []
        if b <= len(head):
            return head[a:b]
        # RRF orders lexical members by rank only while their leg weighs something: then the
        # lexical top b + head (with every neighbour) holds every position up to b.
        depth = b + len(head) if pipeline.fusion.bm25 > 0 else None
        entries = pipeline.recall.match_entries(organic_match, depth=depth)
        return head[a:b] + _rest(
            pipeline, entries, neighbours, head, plan.mode, max(a, len(head)), b
        )

    if relevance:
        in_head = {item.product_id: item for item in raw_head}
        items = merge_page(
            pins, organic_total, start, end, organic,
            lambda pid: pinned_item(pipeline.recall, pid, in_head),
        )  # fmt: skip
    elif raw_head and start < total:
        entries = pipeline.recall.match_window(match, sort, start, end)
        items = _sorted_page(pipeline, entries, dict(neighbours), start)
    else:
        items = []
    spent = (time.perf_counter() - started) * 1000
    response.timings_ms["result_set"] = round(spent, 3)  # total, facets and the page's members
    response.timings_ms["total"] = round(response.timings_ms.get("total", 0.0) + spent, 3)
    return ResultPage(
        response=response,
        items=items,
        total=total,
        total_exact=exact,
        page=page,
        size=size,
        sort=sort,
        has_more=end < total,
        facets=counts,
        rules=merch.rules,
    )


def _rest(
    pipeline: SearchPipeline,
    entries: list[MatchEntry],
    neighbours: list[tuple[str, float]],
    head: list[SearchItem],
    mode: str,
    start: int,
    end: int,
) -> list[SearchItem]:
    """Positions ``start`` to ``end`` (0-based, past the head) of the relevance order: the
    members not in the head, by weighted RRF of both legs over the whole match set."""
    shown = {item.product_id for item in head}
    members = {entry.product_id: entry for entry in entries}
    lexical = [e for e in entries if e.bm25_score > 0]
    if all(e.bm25_rank is not None for e in lexical):  # ranked by the backend (a top only)
        bm25_rank = {e.product_id: e.bm25_rank for e in lexical if e.bm25_rank is not None}
    else:
        lexical.sort(key=lambda e: (-e.bm25_score, e.product_id))
        bm25_rank = {e.product_id: rank for rank, e in enumerate(lexical, start=1)}
    cosine = {pid: score for pid, score in neighbours if pid in members}
    dense_rank = {pid: rank for rank, pid in enumerate(cosine, start=1)}
    weights = pipeline.fusion

    def recall_score(pid: str) -> float:
        if mode == "bm25":
            return members[pid].bm25_score
        if mode == "dense":
            return cosine.get(pid, 0.0)
        score = 0.0
        if pid in bm25_rank:
            score += weights.bm25 / (weights.k + bm25_rank[pid])
        if pid in dense_rank:
            score += weights.dense / (weights.k + dense_rank[pid])
        return score

    scored = [(recall_score(pid), pid) for pid in members if pid not in shown]
    scored.sort(key=lambda pair: (-pair[0], pair[1]))
    offset = len(head)
    window = scored[start - offset : end - offset]
    products = pipeline.recall.products([pid for _, pid in window])
    return [
        _item(
            products[pid],
            members[pid],
            position,
            score,
            cosine.get(pid),
            bm25_rank.get(pid),
            dense_rank.get(pid),
        )  # fmt: skip
        for position, (score, pid) in enumerate(window, start=start + 1)
        if pid in products
    ]


def _sorted_page(
    pipeline: SearchPipeline,
    window: list[MatchEntry],
    cosine: dict[str, float],
    start: int,
) -> list[SearchItem]:
    """The items of one page of a sorted match set (``Recall.match_window``'s entries), from
    position ``start`` + 1."""
    products = pipeline.recall.products([e.product_id for e in window])
    return [
        _item(products[e.product_id], e, position, None, cosine.get(e.product_id), None, None)
        for position, e in enumerate(window, start=start + 1)
        if e.product_id in products
    ]


def _item(
    product: Product,
    entry: MatchEntry,
    position: int,
    final_score: float | None,
    dense_score: float | None,
    bm25_rank: int | None,
    dense_rank: int | None,
) -> SearchItem:
    return SearchItem(
        product_id=product.id,
        title=product.title,
        locale=product.locale,
        price=product.price,
        currency=product.currency,
        in_stock=product.in_stock,
        position=position,
        bm25_score=round(entry.bm25_score, 6),
        rerank_score=None,
        final_score=None if final_score is None else round(final_score, 6),
        dense_score=None if dense_score is None else round(dense_score, 6),
        bm25_rank=bm25_rank,
        dense_rank=dense_rank,
    )
