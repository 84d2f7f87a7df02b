"""``GET /search``: BM25 recall, reranking, pagination; impressions recorded off the path."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request

from search.api.components import Components, components_of
from search.api.middleware.admission import shed_if_behind as _shed_if_behind
from search.api.middleware.limits import check_query_text
from search.api.models import (
    ERROR_RESPONSES,
    CorrectionOut,
    FacetValueOut,
    SearchItemOut,
    SearchOut,
    SynonymOut,
)
from search.errors import InvalidQuery, LimitExceeded
from search.events.log import Impression
from search.experiments.assignment import assign
from search.metrics import SEARCH_STAGE_LATENCY
from search.query.input_text import FreeText
from search.recall import SearchFilters
from search.recall.facets import parse_price_bucket
from search.results.result_set import check_window, parse_facets, parse_sort, search_page
from search.settings import Settings, get_settings

router = APIRouter(tags=["search"])


@router.get("/search", response_model=SearchOut, responses=ERROR_RESPONSES)
def search(
    request: Request,
    components: Annotated[Components, Depends(components_of)],
    settings: Annotated[Settings, Depends(get_settings)],
    q: Annotated[FreeText, Query(description="The shopper's query, any language.")],
    locale: Annotated[
        str | None,
        Query(
            description="Legacy (before cross-lingual recall): a locale (de-DE) or language "
            "(de) that is both the query's language and the only products eligible. Prefer "
            "lang and product_locale."
        ),
    ] = None,
    lang: Annotated[
        str | None,
        Query(
            description="The query's language (de or de-DE): how BM25 analyses it, nothing "
            "more. Detected when absent (long queries only)."
        ),
    ] = None,
    product_locale: Annotated[
        str | None,
        Query(
            description="Only products in this locale's language (de-DE or de; en-GB finds "
            "en-US products) are eligible. Absent: every product, whatever its language."
        ),
    ] = None,
    recall: Annotated[
        Literal["bm25", "dense", "hybrid"] | None,
        Query(description="Recall legs: bm25, dense or hybrid (default SHELF_RECALL_MODE)."),
    ] = None,
    k: Annotated[
        int | None,
        Query(
            description="Without page/size, the number of results returned (default 10). "
            "With them it is not used: the pages walk the whole match set (see total)."
        ),
    ] = None,
    page: Annotated[int | None, Query(description="1-based page number.")] = None,
    size: Annotated[int | None, Query(description="Results per page (default 10).")] = None,
    category: Annotated[str | None, Query(description="A category or any ancestor.")] = None,
    brand: Annotated[str | None, Query(description="Exact brand (case-insensitive).")] = None,
    min_price: Annotated[float | None, Query(allow_inf_nan=False)] = None,
    max_price: Annotated[float | None, Query(allow_inf_nan=False)] = None,
    in_stock: bool | None = None,
    user_id: Annotated[str | None, Query(max_length=128)] = None,
    session_id: Annotated[str | None, Query(max_length=128)] = None,
    rerank: Annotated[
        bool, Query(description="false: recall order only (BM25, or the fused legs).")
    ] = True,
    sort: Annotated[
        str | None,
        Query(
            description="relevance (default: the reranked head, then the rest of the match "
            "set in recall order), price_asc, price_desc or newest (the whole match set, ties "
            "by product id, not reranked)."
        ),
    ] = None,
    facets: Annotated[
        str | None,
        Query(
            description="Comma-separated facets to count over the match set: category, brand, "
            "price, in_stock. Each counts under every other active filter (disjunctive)."
        ),
    ] = None,
    price: Annotated[
        str | None,
        Query(description="A price facet value: LOW-HIGH (LOW <= price < HIGH) or LOW-."),
    ] = None,
) -> SearchOut:
    """Search the catalog; ``request_id`` ties later events (clicks, purchases) to this answer."""
    _shed_if_behind(request, settings)
    check_query_text(q, settings)
    assignment = assign(components.experiments.running(), user_id, session_id)
    overrides = assignment.overrides
    pipeline = components.variants.pipeline(overrides.model)  # prepared before it ran
    paged = page is not None or size is not None
    page = 1 if page is None else page
    size = 10 if size is None else size
    recall_k = overrides.recall_k or settings.recall_k
    if k is not None:  # without page/size, k is the page size
        _check_range("k", k, settings.api_max_k, "SHELF_API_MAX_K")
    if not paged:
        size = 10 if k is None else k
    else:
        _check_range("size", size, settings.api_max_page_size, "SHELF_API_MAX_PAGE_SIZE")
    check_window(page, size, settings.api_max_result_window)
    sort = parse_sort(sort)
    asked_facets = parse_facets(facets)
    bucket = parse_price_bucket(price) if price is not None else None
    if locale is not None and product_locale is not None:
        raise InvalidQuery(
            "locale and product_locale both restrict the products: give product_locale (and "
            "lang for the query's language) only"
        )
    filters = SearchFilters(
        locale=product_locale or locale,
        category=category,
        brand=brand,
        in_stock=in_stock,
        **_price_filters(bucket, min_price, max_price),
    )
    result = search_page(
        pipeline,
        q,
        page=page,
        size=size,
        sort=sort,
        facets=asked_facets,
        recall_k=recall_k,
        filters=filters,
        rerank=rerank and overrides.rerank is not False,
        blend=overrides.blend or 0.0,
        query_language=lang or locale,
        recall_mode=recall,
        max_result_window=settings.api_max_result_window,
        price_edges=settings.facet_price_edges,
        max_facet_values=settings.facet_max_values,
        rules=components.rules.current() if components.rules is not None else None,
    )
    response = result.response
    for stage, ms in response.timings_ms.items():
        SEARCH_STAGE_LATENCY.labels(stage).observe(ms / 1000)

    shown = result.items
    request_id: str = request.state.request_id
    if shown or result.total == 0:  # a zero-result search is logged too (for analytics)
        components.impressions.offer(
            Impression(
                request_id=request_id,
                query=response.query,
                locale=response.language,
                experiment_id=assignment.experiment_id,
                variant=assignment.variant,
                product_ids=tuple(item.product_id for item in shown),
                first_position=shown[0].position if shown else (page - 1) * size + 1,
                user_id=user_id,
                session_id=session_id,
                page=page,
                sort=sort,
                result_count=result.total,
            )
        )
    return SearchOut(
        request_id=request_id,
        experiment=assignment.experiment_id,
        variant=assignment.variant,
        query=response.query,
        language=response.language,
        language_detected=response.language_detected,
        product_locale=response.product_locale,
        recall=response.recall_mode,
        vectors_pending=response.vectors_pending,
        notice=response.notice,
        corrections=[CorrectionOut(term=c.term, to=list(c.to)) for c in response.corrections],
        synonyms=[SynonymOut(term=u.term, also=list(u.also)) for u in response.synonyms],
        did_you_mean=response.did_you_mean,
        items=[SearchItemOut.model_validate(item, from_attributes=True) for item in shown],
        total=result.total,
        total_exact=result.total_exact,
        page=page,
        size=size,
        sort=result.sort,
        has_more=result.has_more,
        facets={
            name: [FacetValueOut(**vars(v)) for v in values]
            for name, values in result.facets.items()
        },  # fmt: skip
        rules=list(result.rules),
        candidates=response.candidates,
        reranked=response.reranked,
        degraded=response.degraded,
        scored=response.scored,
        cached=response.cached,
        model=response.model,
        timings_ms=response.timings_ms,
    )


def _check_range(name: str, value: int, limit: int, setting: str) -> None:
    if not 1 <= value <= limit:
        raise LimitExceeded(f"{name} must be between 1 and {limit} ({setting}); got {value}")


def _price_filters(
    bucket: tuple[float, float | None] | None, min_price: float | None, max_price: float | None
) -> dict[str, float | None]:
    """min_price/max_price, or a price facet value as LOW <= price (< HIGH); not both."""
    if bucket is None:
        return {"min_price": min_price, "max_price": max_price}
    if min_price is not None or max_price is not None:
        raise InvalidQuery("price (a facet bucket) and min_price/max_price both bound the price: "
                           "give one of them")  # fmt: skip
    return {"min_price": bucket[0], "price_below": bucket[1]}
