"""``GET /search``: parse the request, assign the experiment variant, search, record the
impression off the path, answer."""

from __future__ import annotations

import functools
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from search.api.components import Components, components_of, settings_of
from search.api.disconnect import while_connected
from search.api.middleware.admission import shed_if_behind
from search.api.models import (
    ERROR_RESPONSES,
    BudgetOut,
    CorrectionOut,
    ErrorOut,
    FacetValueOut,
    SearchItemOut,
    SearchOut,
    StaleOut,
    SynonymOut,
)
from search.events.evidence import client_network
from search.events.log import Impression
from search.experiments.assignment import assign
from search.metrics import SEARCH_STAGE_LATENCY
from search.pipeline.request import (
    SearchParams,
    http_policy,
    parse_search_request,
    variant_request,
)
from search.query.budget import Deadline
from search.query.input_text import FreeText
from search.settings import Settings

router = APIRouter(tags=["search"])
SEARCH_ERRORS: dict[int | str, dict[str, object]] = {
    **ERROR_RESPONSES,
    504: {
        "model": ErrorOut,
        "description": "The search ran past its deadline (SHELF_SEARCH_DEADLINE_MS) before it "
        "had an answer",
    },
}


@router.get("/search", response_model=SearchOut, responses=SEARCH_ERRORS)
async def search(
    request: Request,
    components: Annotated[Components, Depends(components_of)],
    settings: Annotated[Settings, Depends(settings_of)],
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
) -> Response:
    """Search the catalog; ``request_id`` ties later events (clicks, purchases) to this answer.

    The search runs in the thread pool under its deadline (``SHELF_SEARCH_DEADLINE_MS``, from
    its arrival); a client that disconnects meanwhile stops it at its next check."""
    params = SearchParams(
        q, k=k, page=page, size=size, sort=sort, facets=facets, lang=lang, locale=locale,
        product_locale=product_locale, recall=recall, category=category, brand=brand,
        min_price=min_price, max_price=max_price, in_stock=in_stock, price=price, rerank=rerank,
    )  # fmt: skip
    deadline = Deadline(components.service.config.search_deadline)
    answer = functools.partial(
        _answer, request, components, settings, params, user_id, session_id, deadline
    )
    return await while_connected(request, deadline, answer)


def _answer(
    request: Request,
    components: Components,
    settings: Settings,
    params: SearchParams,
    user_id: str | None,
    session_id: str | None,
    deadline: Deadline,
) -> Response:
    """Parse, assign the variant, search, offer the impression and serialise the answer: in a
    server thread."""
    shed_if_behind(request, settings)
    asked = parse_search_request(params, http_policy(settings))
    assignment = assign(components.experiments.running(), user_id, session_id)
    overrides = assignment.overrides
    asked = variant_request(
        asked, recall_k=overrides.recall_k, rerank=overrides.rerank, blend=overrides.blend
    )
    service = components.variants.service(overrides.model, overrides.ranker)  # prepared
    result = service.search(asked, deadline=deadline)
    for stage, ms in result.timings_ms.items():
        SEARCH_STAGE_LATENCY.labels(stage).observe(ms / 1000)

    shown = result.items
    request_id: str = request.state.request_id
    if shown or result.total == 0:  # a zero-result search is logged too (for analytics)
        components.impressions.offer(
            Impression(
                request_id=request_id,
                query=result.query,
                locale=result.language,
                experiment_id=assignment.experiment_id,
                variant=assignment.variant,
                product_ids=tuple(item.product_id for item in shown),
                first_position=shown[0].position if shown else (asked.page - 1) * asked.size + 1,
                user_id=user_id,
                session_id=session_id,
                page=asked.page,
                sort=asked.sort,
                result_count=result.total,
                ts=components.clock(),
                client_network=client_network(request.client.host if request.client else None),
            )
        )
    # Serialised here, in the worker thread: returned as a model, FastAPI would validate it
    # against response_model again and dump it in a second trip through the thread pool.
    # response_model stays on the route for the OpenAPI schema.
    out = SearchOut(
        request_id=request_id,
        experiment=assignment.experiment_id,
        variant=assignment.variant,
        query=result.query,
        language=result.language,
        language_detected=result.language_detected,
        product_locale=result.product_locale,
        recall=result.recall_mode,
        vectors_pending=result.vectors_pending,
        notice=result.notice,
        corrections=[CorrectionOut(term=c.term, to=list(c.to)) for c in result.corrections],
        synonyms=[SynonymOut(term=u.term, also=list(u.also)) for u in result.synonyms],
        did_you_mean=result.did_you_mean,
        items=[SearchItemOut.model_validate(item, from_attributes=True) for item in shown],
        total=result.total,
        total_exact=result.total_exact,
        page=result.page,
        size=result.size,
        sort=result.sort,
        has_more=result.has_more,
        facets={
            name: [FacetValueOut(**vars(v)) for v in values]
            for name, values in result.facets.items()
        },  # fmt: skip
        rules=list(result.rules),
        candidates=result.candidates,
        reranked=result.reranked,
        degraded=result.degraded,
        scored=result.scored,
        cached=result.cached,
        model=result.model,
        ranker=result.ranker,
        stages=result.stages,
        stale=stale_parts(components),
        timings_ms=result.timings_ms,
        budget=BudgetOut.model_validate(result.budget, from_attributes=True)
        if result.budget
        else None,
    )
    return Response(out.model_dump_json(), media_type="application/json")


# What a search applies of the snapshots read from the event store.
_SEARCH_PARTS = ("synonyms", "rules", "experiments")


def stale_parts(components: Components) -> list[StaleOut]:
    """The parts a search applied that may be out of date (the event store could not be read
    at their last reload); empty when every one is current."""
    return [
        StaleOut(
            part=part.name,
            age_s=None if part.age_s is None else round(part.age_s, 1),
            source=part.source,
            reason=part.problem or "",
        )
        for part in components.freshness()
        if part.stale and part.name in _SEARCH_PARTS
    ]
