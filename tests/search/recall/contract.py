"""What the recall contract suites share: the ids a BM25 search recalls, and synthetic seeded unit
vectors with an embedding pass that stores them (they pin the dense mechanics without a model)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pytest

from search.recall import Retriever, SearchFilters, StoredVector, VectorStore

MODEL = "test-model@1"
DIM = 8
SCORE_TOLERANCE = 2e-3  # vectors are stored as float16 on the embedded backend


def bm25_ids(retriever: Retriever, query: str, **filters: object) -> list[str]:
    """The ids the BM25 top 20 of ``query`` recalls under ``filters``, best first."""
    hits = retriever.search(query, limit=20, filters=SearchFilters(**filters))  # type: ignore[arg-type]
    return [h.product.id for h in hits]


def unit(*components: float) -> np.ndarray:
    vector = np.zeros(DIM, dtype=np.float32)
    vector[: len(components)] = components
    return vector / np.linalg.norm(vector)


def with_cosine(cosine: float) -> np.ndarray:
    """A unit vector whose cosine to ``unit(1)`` is ``cosine``."""
    return unit(cosine, float(np.sqrt(1 - cosine**2)))


def random_units(count: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((count, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def embed(store: VectorStore, vectors: Mapping[str, np.ndarray], model: str = MODEL) -> int:
    """Store the given vectors for the pending products they name, as an embedding pass would."""
    pending = store.pending_vectors(model, limit=100_000)
    return store.put_vectors(
        model,
        [
            StoredVector(p.product_id, p.text_hash, vectors[p.product_id].tolist())
            for p in pending
            if p.product_id in vectors
        ],
    )


def dense(
    retriever: Retriever, vector: np.ndarray, limit: int = 20, **filters: object
) -> list[str]:
    """The ids the dense leg alone finds for ``vector``, best first."""
    legs = retriever.search_legs(
        None,
        vector.tolist(),
        limit=limit,
        filters=SearchFilters(**filters),  # type: ignore[arg-type]
    )
    assert legs.bm25 == []
    return [hit.product.id for hit in legs.dense]


def diverges_on_elasticsearch(request: pytest.FixtureRequest, reason: str) -> None:
    """Mark a test expected to fail on Elasticsearch: embedded behaviour it does not share."""
    if request.node.callspec.params.get("recall") == "elasticsearch":
        request.applymarker(pytest.mark.xfail(reason=reason, strict=False))
