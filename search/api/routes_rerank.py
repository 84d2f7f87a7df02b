"""``POST /rerank``: score free texts with the search model, in the shapes clients already speak.

Two request shapes on one path, told apart by their list field:

- Cohere-style (``documents``, ``top_n``, ``return_documents``) -> ``{"id", "results": [{"index",
  "relevance_score", "document"?}], "meta"}``; also served at ``/v1/rerank`` and ``/v2/rerank``,
  the paths Cohere's SDK (and so LangChain's ``CohereRerank``) appends to its base URL.
- Hugging Face TEI-style (``texts``, ``raw_scores``, ``return_text``) -> ``[{"index", "score",
  "text"?}]``, what LlamaIndex's ``TextEmbeddingsInferenceRerank`` posts to ``{base_url}/rerank``.

Scores are the model's logits through a sigmoid (bge-reranker's documented normalisation, in
[0, 1]); TEI's ``raw_scores: true`` returns the logits. Both are sorted best first. The scoring
goes through the same Reranker, batcher and score cache as search; unlike search it never returns
a partial answer: if the scores are not all in by ``SHELF_API_RERANK_DEADLINE_MS`` it answers 503.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends

from search.api.app import Components, components_of
from search.api.limits import check_query_text
from search.api.models import (
    ERROR_RESPONSES,
    CohereApiVersion,
    CohereDocument,
    CohereMeta,
    CohereRerankRequest,
    CohereRerankResponse,
    CohereResult,
    TeiRank,
    TeiRerankRequest,
)
from search.errors import LimitExceeded
from search.query import normalize_query
from search.rerank import score_texts, sigmoid
from search.settings import Settings, get_settings

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
        normalize_query(query),
        texts,
        deadline_ms=settings.api_rerank_deadline_ms,
    )


def _ranked(scores: list[float]) -> list[int]:
    return sorted(range(len(scores)), key=lambda i: (-scores[i], i))


def rerank_cohere(
    body: CohereRerankRequest, components: Components, settings: Settings, version: str
) -> CohereRerankResponse:
    """The Cohere-style answer."""
    texts = [d if isinstance(d, str) else d.text for d in body.documents]
    logits = _scores(components, settings, body.query, texts, "documents")
    order = _ranked(logits)[: body.top_n]
    return CohereRerankResponse(
        id=str(uuid.uuid4()),
        results=[
            CohereResult(
                index=i,
                relevance_score=sigmoid(logits[i]),
                document=CohereDocument(text=texts[i]) if body.return_documents else None,
            )
            for i in order
        ],
        meta=CohereMeta(
            api_version=CohereApiVersion(version=version),
            billed_units={"search_units": 1},
        ),
    )


def rerank_tei(body: TeiRerankRequest, components: Components, settings: Settings) -> list[TeiRank]:
    """The TEI-style answer."""
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
    settings: Annotated[Settings, Depends(get_settings)],
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
        settings: Annotated[Settings, Depends(get_settings)],
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
