"""``POST /rerank``: score free texts with the search model, in the shapes clients already speak.

Two request shapes on one path, told apart by their list field:

- Cohere-style (``documents``, ``top_n``, ``return_documents``, ``rank_fields``) -> ``{"id",
  "results": [{"index", "relevance_score", "document"?}], "meta"}``; also served at ``/v1/rerank``
  and ``/v2/rerank``, the paths Cohere's SDK (and so LangChain's ``CohereRerank``) appends to its
  base URL. Documents are strings or objects (``{"text": ...}`` or any fields, scored by
  ``rank_fields``), and come back whole with ``return_documents``.
- Hugging Face TEI-style (``texts``, ``raw_scores``, ``return_text``) -> ``[{"index", "score",
  "text"?}]``, what LlamaIndex's ``TextEmbeddingInference`` reranker posts to ``{base_url}/rerank``.
  ``truncation_direction: "Left"`` is refused with a 422 (texts are truncated on the right).

Scores are the model's logits through a sigmoid (bge-reranker's documented normalisation, in
[0, 1]); TEI's ``raw_scores: true`` returns the logits. Both are sorted best first. The scoring
goes through the same Reranker, batcher and score cache as search; unlike search it never returns
a partial answer: if the scores are not all in by ``SHELF_API_RERANK_DEADLINE_MS`` it answers 503.
"""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from search.api.components import Components, components_of, settings_of
from search.api.middleware.limits import check_query_text
from search.api.models import (
    ERROR_RESPONSES,
    CohereApiVersion,
    CohereMeta,
    CohereRerankRequest,
    CohereRerankResponse,
    CohereResult,
    TeiRank,
    TeiRerankRequest,
)
from search.errors import InvalidQuery, LimitExceeded
from search.pipeline.request import query_text
from search.rerank.rerankers import score_texts, sigmoid
from search.settings import Settings

router = APIRouter(tags=["rerank"])


def _scores(
    components: Components, settings: Settings, query: str, texts: list[str], field: str
) -> list[float]:
    check_query_text(query, settings, field="query")
    if len(texts) > settings.api_max_rerank_documents:
        raise LimitExceeded(
            f"{field} has {len(texts)} items; the limit is {settings.api_max_rerank_documents} "
            "(SHELF_API_MAX_RERANK_DOCUMENTS)"
        )
    for i, text in enumerate(texts):
        if len(text) > settings.api_max_document_chars:
            raise LimitExceeded(
                f"{field}[{i}] is {len(text)} characters; the limit is "
                f"{settings.api_max_document_chars} (SHELF_API_MAX_DOCUMENT_CHARS)"
            )
    if not texts:
        return []
    return score_texts(
        components.reranker,
        components.cache,
        query_text(query),
        texts,
        deadline_ms=settings.api_rerank_deadline_ms,
    )


def _ranked(scores: list[float]) -> list[int]:
    return sorted(range(len(scores)), key=lambda i: (-scores[i], i))


def _field_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def document_text(document: str | dict[str, Any], index: int, rank_fields: list[str] | None) -> str:
    """The text a Cohere document is scored by: a string itself; an object's ``rank_fields`` as
    ``field: value`` lines in that order (non-string values as JSON), else its ``text``.

    ``InvalidQuery`` (422) naming the document and the field when a rank field or ``text`` is
    missing. (Cohere's v1 reference: "If a document is provided the text field is required";
    rank_fields "will rerank using the values in title, author, text sequentially".)
    """
    if isinstance(document, str):
        return document
    if rank_fields:
        missing = [field for field in rank_fields if field not in document]
        if missing:
            raise InvalidQuery(
                f"documents[{index}] has no field {missing[0]!r}, which rank_fields names; "
                f"its fields are {sorted(document)}: give every document every rank field"
            )
        return "\n".join(f"{field}: {_field_text(document[field])}" for field in rank_fields)
    text = document.get("text")
    if not isinstance(text, str):
        problem = "has no 'text' field" if text is None else "has a 'text' that is not a string"
        raise InvalidQuery(
            f"documents[{index}] {problem}: give each object document a string 'text', or "
            "name the fields to score in rank_fields"
        )
    return text


def rerank_cohere(
    body: CohereRerankRequest, components: Components, settings: Settings, version: str
) -> CohereRerankResponse:
    """The Cohere-style answer; with ``return_documents`` each document comes back whole."""
    texts = [document_text(d, i, body.rank_fields) for i, d in enumerate(body.documents)]
    logits = _scores(components, settings, body.query, texts, "documents")
    order = _ranked(logits)[: body.top_n]
    return CohereRerankResponse(
        id=str(uuid.uuid4()),
        results=[
            CohereResult(
                index=i,
                relevance_score=sigmoid(logits[i]),
                document=_returned(body.documents[i]) if body.return_documents else None,
            )
            for i in order
        ],
        meta=CohereMeta(
            api_version=CohereApiVersion(version=version),
            billed_units={"search_units": 1},
        ),
    )


def _returned(document: str | dict[str, Any]) -> dict[str, Any]:
    return {"text": document} if isinstance(document, str) else document


def rerank_tei(body: TeiRerankRequest, components: Components, settings: Settings) -> list[TeiRank]:
    """The TEI-style answer; ``InvalidQuery`` for a ``truncation_direction`` other than Right."""
    if body.truncation_direction.lower() != "right":
        # The model keeps a long text's start (FlagReranker's right truncation), and scores are
        # cached per text: a left-truncated score would need its own model path and cache key.
        raise InvalidQuery(
            f"truncation_direction {body.truncation_direction!r} is not supported: Shelf "
            "truncates long texts on the right (keeps their start). Send 'Right' or leave it "
            "out, or cut each text to the part you want scored"
        )
    logits = _scores(components, settings, body.query, body.texts, "texts")
    return [
        TeiRank(
            index=i,
            score=logits[i] if body.raw_scores else sigmoid(logits[i]),
            text=body.texts[i] if body.return_text else None,
        )
        for i in _ranked(logits)
    ]


@router.post(
    "/rerank",
    response_model=CohereRerankResponse | list[TeiRank],
    response_model_exclude_none=True,
    responses=ERROR_RESPONSES,
)
def rerank(
    body: CohereRerankRequest | TeiRerankRequest,
    components: Annotated[Components, Depends(components_of)],
    settings: Annotated[Settings, Depends(settings_of)],
) -> CohereRerankResponse | list[TeiRank]:
    """Rank texts against a query with the search model (Cohere-style or TEI-style body)."""
    if isinstance(body, TeiRerankRequest):
        return rerank_tei(body, components, settings)
    return rerank_cohere(body, components, settings, version="1")


def _add_cohere_route(version: str, clients: str) -> None:
    """``POST /v{version}/rerank``: the path Cohere's SDK of that version appends."""

    def rerank_cohere_versioned(
        body: CohereRerankRequest,
        components: Annotated[Components, Depends(components_of)],
        settings: Annotated[Settings, Depends(settings_of)],
    ) -> CohereRerankResponse:
        return rerank_cohere(body, components, settings, version=version)

    router.add_api_route(
        f"/v{version}/rerank",
        rerank_cohere_versioned,
        methods=["POST"],
        name=f"rerank_cohere_v{version}",
        description=f"Cohere v{version} path ({clients}).",
        response_model=CohereRerankResponse,
        response_model_exclude_none=True,
        responses=ERROR_RESPONSES,
    )


_add_cohere_route("1", "`cohere.Client(base_url=...)`")
_add_cohere_route("2", "`cohere.ClientV2(base_url=...)`, LangChain's `CohereRerank`")
