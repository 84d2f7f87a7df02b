"""The dense leg on Elasticsearch: request bodies and response readers, pure functions the tests
pin exactly (the mapping itself, ``VECTOR_PROPERTIES``, is in ``elastic_bodies``).

- Search: one ``_msearch`` holds the BM25 body (``elastic_bodies.search_body``) and a top-level
  ``knn`` body whose ``filter`` is built from the same ``filter_clauses``, so both legs see the same
  eligible products. The filter is applied inside the HNSW search, so a selective filter still
  yields ``k`` hits when that many products match (Lucene switches to an exact scan when the
  filter leaves fewer products than the graph search would visit).
- Scores: for ``cosine`` (as for ``dot_product``) the kNN ``_score`` is ``(1 + cos) / 2`` in
  [0, 1] (Elasticsearch reference, ``dense_vector`` "similarity"); ``cosine_from_score`` undoes it.
- Which model built the vectors: the index mapping's ``_meta.embedding_model``, written with the
  first stored vector (``put_vectors``); ``dims`` is set by that first vector too.
- Stale vectors never land: a vector is written by a script that checks the document's
  ``embed_text_hash`` still equals the hash of the text it was computed from (a no-op otherwise).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from search.errors import EmbeddingMismatch
from search.recall import SearchFilters, StoredVector
from search.recall.elastic.bodies import (
    UPDATE_RETRIES_ON_CONFLICT,
    VECTOR_FIELD,
    filter_clauses,
)

META_MODEL = "embedding_model"  # the key of the index mapping's _meta naming the model
MIN_NUM_CANDIDATES = 100
MAX_NUM_CANDIDATES = 10_000  # Elasticsearch's limit on num_candidates
MAX_PAGE = 10_000  # index.max_result_window: a larger ``pending_vectors`` is paged (search_after)
REBUILD = "run `shelf ingest --full FILE` or `shelf embed --rebuild`"

SET_VECTOR_IF_TEXT_UNCHANGED = (
    "if (params.text_hash.equals(ctx._source.embed_text_hash)) "
    "{ ctx._source.embedding = params.vector; } else { ctx.op = 'noop'; }"
)
DROP_VECTOR = "ctx._source.remove('embedding')"


def num_candidates(k: int) -> int:
    """Candidates the HNSW search visits per shard for a top ``k``: ``max(100, 2k)``, capped."""
    return min(MAX_NUM_CANDIDATES, max(MIN_NUM_CANDIDATES, 2 * k))


def knn_body(vector: Sequence[float], filters: SearchFilters | None, limit: int) -> dict[str, Any]:
    """The dense leg's search: top ``limit`` by cosine to ``vector`` among the filtered products."""
    knn: dict[str, Any] = {
        "field": VECTOR_FIELD,
        "query_vector": [float(x) for x in vector],
        "k": limit,
        "num_candidates": num_candidates(limit),
    }
    clauses = filter_clauses(filters or SearchFilters())
    if clauses:
        knn["filter"] = clauses
    return {"size": limit, "track_total_hits": False, "_source": ["product"], "knn": knn}


def msearch_searches(bodies: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """``_msearch`` lines: an empty header (the index comes from the path) before each body."""
    return [line for body in bodies for line in ({}, body)]


def cosine_from_score(score: float) -> float:
    """The cosine similarity behind a kNN ``_score`` of ``(1 + cos) / 2``."""
    return 2.0 * score - 1.0


def pending_body(limit: int, after: str | None = None) -> dict[str, Any]:
    """Up to ``limit`` products without a vector, by id, after the id ``after``: their
    embedding text and its hash."""
    body: dict[str, Any] = {
        "size": limit,
        "track_total_hits": False,
        "_source": ["embed_text", "embed_text_hash", "language"],
        "query": {"bool": {"must_not": [{"exists": {"field": VECTOR_FIELD}}]}},
        "sort": [{"id": "asc"}],
    }
    if after is not None:
        body["search_after"] = [after]
    return body


def vector_status_body() -> dict[str, Any]:
    """One search counting the products (total hits) and those with a vector (aggregation)."""
    return {
        "size": 0,
        "track_total_hits": True,
        "aggs": {"with_vector": {"filter": {"exists": {"field": VECTOR_FIELD}}}},
    }


def put_vector_actions(vectors: Iterable[StoredVector], index: str) -> Iterator[dict[str, Any]]:
    """``helpers.streaming_bulk`` updates that store each vector if its product's embedding text
    is still the one it was computed from (``result: noop`` otherwise)."""
    for stored in vectors:
        yield {
            "_op_type": "update",
            "_index": index,
            "_id": stored.product_id,
            "retry_on_conflict": UPDATE_RETRIES_ON_CONFLICT,
            "script": {
                "lang": "painless",
                "source": SET_VECTOR_IF_TEXT_UNCHANGED,
                "params": {
                    "text_hash": stored.text_hash,
                    "vector": [float(x) for x in stored.vector],
                },
            },
        }


def model_meta(model_id: str) -> dict[str, str]:
    """The index mapping's ``_meta`` once vectors from ``model_id`` are stored."""
    return {META_MODEL: model_id}


def drop_vectors_reindex_body(source: str, dest: str) -> dict[str, Any]:
    """``_reindex`` arguments copying every product from ``source`` into the new index ``dest``
    without its vector (``drop_vectors``)."""
    return {
        "source": {"index": source},
        "dest": {"index": dest},
        "script": {"lang": "painless", "source": DROP_VECTOR},
    }


@dataclass(frozen=True)
class VectorMapping:
    """What an index mapping says about vectors."""

    has_field: bool  # False: an index built before Shelf stored vectors
    model_id: str | None
    dim: int | None


def vector_mapping(get_mapping: dict[str, Any]) -> VectorMapping:
    """Read a ``GET <alias>/_mapping`` response (one index behind the alias)."""
    index: dict[str, Any] = next(iter(get_mapping.values()), {})
    mappings: dict[str, Any] = index.get("mappings", {})
    field = mappings.get("properties", {}).get(VECTOR_FIELD)
    dims = field.get("dims") if field else None
    return VectorMapping(
        field is not None,
        mappings.get("_meta", {}).get(META_MODEL),
        int(dims) if dims is not None else None,
    )


def check_model(alias: str, mapping: VectorMapping, model_id: str) -> None:
    """``EmbeddingMismatch`` unless vectors from ``model_id`` may be stored in the index."""
    if not mapping.has_field:
        raise EmbeddingMismatch(predates_vectors(alias))
    if mapping.model_id is not None and mapping.model_id != model_id:
        raise EmbeddingMismatch(
            f"the index {alias} holds vectors from {mapping.model_id}, not from the configured "
            f"embedding model {model_id}: {REBUILD} to rebuild them with {model_id}, or "
            f"configure {mapping.model_id} again"
        )


def predates_vectors(alias: str) -> str:
    """What to do about an index whose mapping has no vector field."""
    return (
        f"the index {alias} was built before Shelf stored vectors: run `shelf ingest --full FILE` "
        "to rebuild it with them"
    )


def leg_error(alias: str, item: dict[str, Any]) -> tuple[str, str] | None:
    """Classify one ``_msearch`` response that failed: ``None`` when it did not, else
    ``("missing", reason)`` for a catalog that does not exist yet (an empty leg),
    ``("other", reason)`` for anything else. A query vector of another dimension than the
    index's, or an index without the vector field, raises ``EmbeddingMismatch``."""
    error = item.get("error")
    if error is None:
        return None
    reason = _reasons(error)
    if "index_not_found_exception" in reason:
        return ("missing", reason)
    if "different number of dimensions" in reason:
        raise EmbeddingMismatch(
            f"the query vector does not fit the vectors of the index {alias} ({_first(error)}): "
            f"they come from another embedding model; {REBUILD}"
        )
    if f"field [{VECTOR_FIELD}] does not exist" in reason:
        raise EmbeddingMismatch(predates_vectors(alias))
    return ("other", reason)


def _reasons(error: Any) -> str:
    """Every type and reason in an error and its causes, for matching."""
    if isinstance(error, dict):
        return " ".join(_reasons(value) for value in error.values())
    if isinstance(error, list):
        return " ".join(_reasons(value) for value in error)
    return str(error)


def _first(error: dict[str, Any]) -> str:
    root = error.get("root_cause") or [error]
    return str(root[0].get("reason", error.get("type")))
