"""``GET /search``: BM25 recall, reranking, pagination; impressions recorded off the path."""

from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request

from search.api.components import Components, components_of
from search.api.limits import check_query_string_utf8, check_query_text
from search.api.models import ERROR_RESPONSES, SearchItemOut, SearchOut
from search.errors import InvalidQuery, LimitExceeded, Overloaded
from search.experiments.assignment import assign
from search.experiments.event_log import Impression
from search.input_text import FreeText
from search.metrics import SEARCH_STAGE_LATENCY, SHED_REQUESTS
from search.recall import SearchFilters
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
            description="Results considered: without page/size, all k are returned "
            "(default 10); with them, the pages cut the top k (default SHELF_RECALL_K)."
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
    rerank: Annotated[bool, Query(description="false: BM25 order only.")] = True,
) -> SearchOut:
    """Search the catalog; ``request_id`` ties later events (clicks, purchases) to this answer."""
    _shed_if_behind(request, settings)
    check_query_string_utf8(request.scope.get("query_string", b""))
    check_query_text(q, settings)
    assignment = assign(components.experiments.running(), user_id, session_id)
    overrides = assignment.overrides
    pipeline = components.variants.pipeline(overrides.model)  # prepared before it ran
    paged = page is not None or size is not None
    page = 1 if page is None else page
    size = 10 if size is None else size
    recall_k = overrides.recall_k or settings.recall_k
    considered = k if k is not None else (recall_k if paged else 10)
    _check_range("k", considered, settings.api_max_k, "SHELF_API_MAX_K")
    _check_range("size", size, settings.api_max_page_size, "SHELF_API_MAX_PAGE_SIZE")
    _check_range("page", page, settings.api_max_k, "SHELF_API_MAX_K")
    if not paged:
        size = considered
    if locale is not None and product_locale is not None:
        raise InvalidQuery(
            "locale and product_locale both restrict the products: give product_locale (and "
            "lang for the query's language) only"
        )
    filters = SearchFilters(
        locale=product_locale or locale,
        category=category,
        brand=brand,
        min_price=min_price,
        max_price=max_price,
        in_stock=in_stock,
    )
    response = pipeline.search(
        q,
        k=considered,
        recall_k=recall_k,
        filters=filters,
        rerank=rerank and overrides.rerank is not False,
        blend=overrides.blend or 0.0,
        query_language=lang or locale,
        recall_mode=recall,
    )
    for stage, ms in response.timings_ms.items():
        SEARCH_STAGE_LATENCY.labels(stage).observe(ms / 1000)

    start = (page - 1) * size
    shown = response.items[start : start + size]
    request_id: str = request.state.request_id
    if shown:
        components.impressions.offer(
            Impression(
                request_id=request_id,
                query=response.query,
                locale=response.language,
                experiment_id=assignment.experiment_id,
                variant=assignment.variant,
                product_ids=tuple(item.product_id for item in shown),
                first_position=shown[0].position,
                user_id=user_id,
                session_id=session_id,
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
        items=[SearchItemOut.model_validate(item, from_attributes=True) for item in shown],
        total=len(response.items),
        page=page,
        size=size,
        has_more=start + size < len(response.items),
        candidates=response.candidates,
        reranked=response.reranked,
        degraded=response.degraded,
        scored=response.scored,
        cached=response.cached,
        model=response.model,
        timings_ms=response.timings_ms,
    )


def _shed_if_behind(request: Request, settings: Settings) -> None:
    """Admission control: a search that queued for a thread past the limit is answered 503 at
    once, so an overload sheds load instead of letting every request's latency grow."""
    arrived = getattr(request.state, "arrived", None)
    if arrived is None:
        return
    waited_ms = (time.monotonic() - arrived) * 1000
    if waited_ms > settings.api_max_queue_wait_ms:
        SHED_REQUESTS.inc()
        raise Overloaded(
            f"Shelf is behind: this search waited {waited_ms:.0f} ms before it could start "
            f"(SHELF_API_MAX_QUEUE_WAIT_MS={settings.api_max_queue_wait_ms}); retry shortly"
        )


def _check_range(name: str, value: int, limit: int, setting: str) -> None:
    if not 1 <= value <= limit:
        raise LimitExceeded(f"{name} must be between 1 and {limit} ({setting}); got {value}")
