"""Request and response bodies of the HTTP API (pydantic v2): what the OpenAPI schema shows."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from search.query.input_text import FreeText, FreeTextOrObject, Identifier

# Static ceilings for the schema; the configured (usually lower) limits are checked in the routes.
_MAX_ITEMS = 100_000


class ErrorDetail(BaseModel):
    """What went wrong, for people: ``type`` is the error class, ``message`` says what to do."""

    type: str
    message: str


class ErrorOut(BaseModel):
    """Every error answer: ``{"error": {"type": ..., "message": ...}}``."""

    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorOut, "description": description}
    for status, description in (
        (401, "Missing or wrong API key"),
        (413, "Request body too large"),
        (422, "Invalid input; the message names the field or the limit"),
        (503, "Not ready, overloaded, or not configured"),
    )
}


class SearchItemOut(BaseModel):
    """One product of a search answer."""

    product_id: str
    title: str
    locale: str
    price: float
    currency: str
    in_stock: bool
    position: int = Field(description="1-based rank over the whole answer (not the page).")
    bm25_score: float = Field(description="BM25 score; 0 when the BM25 leg did not find it.")
    dense_score: float | None = Field(
        None,
        description="Cosine similarity to the query vector; null when the dense leg "
        "did not find it.",
    )
    bm25_rank: int | None = Field(None, description="1-based rank in the BM25 leg, or null.")
    dense_rank: int | None = Field(None, description="1-based rank in the dense leg, or null.")
    rerank_score: float | None = Field(description="The model's raw score; null if unscored.")
    final_score: float | None = Field(
        description="The score the item is ordered by: rerank_score when the answer was "
        "reranked, the recall score when it was not (rerank=false: BM25's, the cosine, or "
        "the RRF score with both legs); with an "
        "experiment's blend b, (1-b)*sigmoid(rerank_score) + b*bm25_score/top bm25_score. "
        "Null for a candidate left unscored in a degraded answer (those follow the scored "
        "ones, in recall order)."
    )
    pinned: bool = Field(
        False, description="Placed at this position by a merchandising rule (rule names it)."
    )
    rule: str | None = Field(
        None, description="The merchandising rule that pinned or boosted it, or null."
    )
    boost: float | None = Field(
        None,
        description="The factor merchandising rules multiplied final_score by (a negative "
        "score is divided), or null.",
    )


class FacetValueOut(BaseModel):
    """One facet value and how many products of the match set have it."""

    value: str
    count: int
    level: int | None = Field(None, description="A category's breadcrumb depth (1: top).")


class CorrectionOut(BaseModel):
    """A query word the index does not hold, and the catalog words it was searched as."""

    term: str = Field(description="The word as typed (normalised).")
    to: list[str] = Field(description="Catalog words within its allowed edits, nearest first.")


class SynonymOut(BaseModel):
    """A query phrase a synonym rule names, and what it also searched for."""

    term: str
    also: list[str]


class StaleOut(BaseModel):
    """A part of the search read from the event store that may be out of date: the store could
    not be read, so the last good copy was applied."""

    part: str = Field(description="synonyms, rules or experiments.")
    age_s: float | None = Field(
        description="Seconds since the event store last confirmed the copy applied (null: "
        "never; nothing of it was applied)."
    )
    source: str = Field(description="Where the copy applied came from: store, local copy, none.")
    reason: str = Field(description="Why it could not be read.")


class BudgetOut(BaseModel):
    """How the query fared against its budget (SHELF_SEARCH_MAX_TERMS, SHELF_SEARCH_MAX_CLAUSES,
    SHELF_SEARCH_DEADLINE_MS). Over it, the query is cut, the same way every time: synonym
    phrases first, then typo corrections, then the query's last words."""

    cut: bool = Field(description="Something the query would have searched for was left out.")
    terms: int = Field(
        description="Terms searched: the query's words, one per word typo tolerance may "
        "correct, and each synonym phrase."
    )
    max_terms: int = Field(description="The most terms a query may search for.")
    clauses: int = Field(
        description="Index terms in the lexical query (at most; a correction counts its 5 "
        "candidates)."
    )
    max_clauses: int = Field(description="The most index terms a lexical query may hold.")
    deadline_ms: float | None = Field(None, description="The search's wall-time budget.")
    words_dropped: list[str] = Field(
        default_factory=list, description="The query's own words left out (its last ones)."
    )
    corrections_dropped: int = Field(
        0, description="Words typo tolerance could have corrected but did not try (budget)."
    )
    synonyms_dropped: int = Field(0, description="Synonym phrases left out (at least this many).")


class SearchOut(BaseModel):
    """A search answer and how it was made."""

    request_id: str = Field(description="Refer to it in POST /events.")
    experiment: str | None = Field(description="The experiment this search was part of, if any.")
    variant: str = Field(description="The experiment variant served ('default' outside one).")
    query: str = Field(description="The query as searched (normalised).")
    language: str | None = Field(
        description="The language BM25 analysed the query as (null: every language of its "
        "script). It never restricts which products are found."
    )
    language_detected: bool
    product_locale: str | None = Field(
        description="The eligibility filter applied (a locale or language), or null: every "
        "product, in any language, could be found."
    )
    recall: str = Field(description="The recall legs that ran: bm25, dense or hybrid.")
    vectors_pending: int = Field(
        description="Products without a vector yet (the dense leg cannot find them)."
    )
    notice: str | None = Field(
        None,
        description="What the operator should know, if anything (e.g. the cross-encoder was "
        "wanted but is not available here, so the answer is not reranked).",
    )
    corrections: list[CorrectionOut] = Field(
        default_factory=list,
        description="Misspelled words (absent from the index) and the words they were read as "
        "(typo tolerance: 1 edit from 5 characters, 2 from 9; never digits or CJK).",
    )
    synonyms: list[SynonymOut] = Field(
        default_factory=list, description="Query phrases synonym rules also searched as."
    )
    did_you_mean: str | None = Field(
        None, description="When no word matched: the query spelled with catalog words."
    )
    items: list[SearchItemOut]
    total: int = Field(
        description="Size of the match set (every product the query and filters match, "
        "lexically or by meaning above the match floor): what the pages walk."
    )
    total_exact: bool = Field(
        True, description="false: total is a lower bound (Elasticsearch stopped counting)."
    )
    page: int
    size: int
    sort: str = Field("relevance", description="relevance, price_asc, price_desc or newest.")
    has_more: bool
    facets: dict[str, list[FacetValueOut]] = Field(
        default_factory=dict,
        description="Counts per value of each facet asked for, over the match set under every "
        "other active filter. Apply a value with the same-named parameter (price=25-50).",
    )
    rules: list[str] = Field(
        default_factory=list,
        description="Ids of the merchandising rules the query met (pins, hides, boosts).",
    )
    candidates: int = Field(description="Candidates recalled (both legs, fused).")
    reranked: bool
    degraded: bool = Field(description="Some candidates went unscored (deadline, overload).")
    scored: int
    cached: int
    model: str | None = Field(description="The cross-encoder that reranked (null: none did).")
    ranker: str | None = Field(
        None,
        description="The learned ranker that ordered the first candidates (name@version; "
        "null: the fused or cross-encoder order, SHELF_RANKER=none).",
    )
    stages: list[str] = Field(
        default_factory=list,
        description="The stages that made this order, in the order they ran: recall:bm25, "
        "recall:dense, fuse, rerank:<model id>, ranker:<name@version>, rules, sort:<sort>. A "
        "stage absent did not run (rerank: off, not available, or nothing scored in time).",
    )
    stale: list[StaleOut] = Field(
        default_factory=list,
        description="What this answer applied that may be out of date (the event store could "
        "not be read: its last good copy was used instead). Empty: everything was current.",
    )
    timings_ms: dict[str, float]
    budget: BudgetOut | None = Field(
        None, description="How the query fared against its budget; cut: true when it was cut."
    )


class CohereRerankRequest(BaseModel):
    """Cohere-style body (``/v1/rerank``, ``/v2/rerank``): ``documents`` and ``top_n``."""

    model_config = ConfigDict(extra="ignore")

    query: FreeText
    documents: list[FreeTextOrObject] = Field(
        max_length=_MAX_ITEMS,
        description="Strings, or objects: an object is scored by its ``text``, or by the fields "
        "``rank_fields`` names, and comes back whole with ``return_documents``.",
    )
    top_n: int | None = Field(None, ge=1)
    return_documents: bool = False
    rank_fields: list[Identifier] | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="The fields of object documents that are scored, joined as 'field: value' "
        "lines in this order (Cohere's rank_fields). Every object must have every one.",
    )
    model: Identifier | None = None


class CohereResult(BaseModel):
    """One ranked document: its index in the request and its relevance score; with
    ``return_documents`` the document as sent (a string as ``{"text": ...}``)."""

    index: int
    relevance_score: float
    document: dict[str, Any] | None = None


class CohereApiVersion(BaseModel):
    """Cohere's ``meta.api_version``."""

    version: str


class CohereMeta(BaseModel):
    """Cohere's ``meta``."""

    api_version: CohereApiVersion
    billed_units: dict[str, int] = Field(default_factory=dict)


class CohereRerankResponse(BaseModel):
    """Cohere-style answer: results best first."""

    id: str
    results: list[CohereResult]
    meta: CohereMeta


class TeiRerankRequest(BaseModel):
    """Hugging Face text-embeddings-inference body: ``texts``, ``raw_scores``, ``return_text``."""

    model_config = ConfigDict(extra="ignore")

    query: FreeText
    texts: list[FreeText] = Field(max_length=_MAX_ITEMS)
    raw_scores: bool = False
    return_text: bool = False
    truncate: bool | None = Field(
        None, description="Accepted for compatibility: texts are always truncated to the model."
    )
    truncation_direction: Identifier = Field(
        "Right",
        description="Only 'Right' (keep the start of a long text, as the model truncates); "
        "'Left' is refused with a 422.",
    )


class TeiRank(BaseModel):
    """One ranked text, TEI-style."""

    index: int
    score: float
    text: str | None = None


class EventIn(BaseModel):
    """A shopper's action on a product of a search answer."""

    model_config = ConfigDict(extra="forbid")

    event_id: Identifier = Field(
        min_length=1, max_length=128, description="Unique; retries are safe."
    )
    type: Literal["click", "add_to_cart", "purchase"]
    request_id: Identifier = Field(
        min_length=1, max_length=64, description="The search's request_id the product came from."
    )
    product_id: Identifier = Field(min_length=1, max_length=256)
    position: int = Field(ge=1, le=100_000)
    user_id: Identifier | None = Field(None, max_length=128)
    session_id: Identifier | None = Field(None, max_length=128)
    value: float | None = Field(None, ge=0, le=1e12, allow_inf_nan=False)
    currency: Identifier | None = Field(None, pattern=r"^[A-Z]{3}$")
    ts: dt.datetime | None = None


class RejectedEvent(BaseModel):
    """One event of a batch that was not stored, and why."""

    index: int = Field(description="0-based position of the event in the batch.")
    event_id: str
    reason: str


class EventsOut(BaseModel):
    """How many events arrived, how many were new, how many were already stored, how many wait
    in the spool, and which were rejected (``received = stored + duplicates + pending +
    rejected_count``)."""

    received: int
    stored: int
    duplicates: int
    pending: int = Field(
        0,
        description="Events accepted but not stored yet (answered 202): the event store is "
        "down or their search's impression is still on its way. They are kept in the durable "
        "spool and stored, joined to their search, once the store is back; duplicates among "
        "them are dropped then.",
    )
    rejected_count: int = 0
    rejected: list[RejectedEvent] = Field(
        default_factory=list,
        description="Events not stored (their request_id names no search answer, or the store "
        "could not take them); every other event of the batch was stored. The reason says "
        "what to correct before resending.",
    )


class Check(BaseModel):
    """One readiness check."""

    ok: bool
    detail: str
    required: bool = True


class ReadyOut(BaseModel):
    """Readiness: ``ready`` when every required check is ok."""

    ready: bool
    checks: dict[str, Check]
    vectors_pending: int | None = Field(
        None, description="Products the dense leg cannot find yet (no vector); null: no dense leg."
    )


class HealthOut(BaseModel):
    """Liveness."""

    status: Literal["ok"]
