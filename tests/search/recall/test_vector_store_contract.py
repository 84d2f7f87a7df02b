"""What every ``VectorStore`` must do: list the texts that lack a vector from the model, store
vectors (never a stale one), report and drop them. On both backends (the ``recall`` fixture of
tests/search/recall/conftest.py); synthetic seeded unit vectors pin the mechanics."""

from __future__ import annotations

import pytest

from search.errors import EmbeddingMismatch
from search.recall import Recall, StoredVector
from tests.conftest import make_product
from tests.search.recall.contract import MODEL, dense, embed, unit


def test_a_changed_text_is_pending_again_and_its_stale_vector_is_skipped(recall: Recall) -> None:
    recall.index([make_product(id="a", title="Red kettle")])
    [before] = recall.pending_vectors(MODEL, limit=10)
    recall.index([make_product(id="a", title="Blue teapot")])
    stale = StoredVector("a", before.text_hash, unit(1).tolist())
    assert recall.put_vectors(MODEL, [stale]) == 0
    [after] = recall.pending_vectors(MODEL, limit=10)
    assert after.product_id == "a" and after.text_hash != before.text_hash
    assert "Blue teapot" in after.text
    assert dense(recall, unit(1)) == []


def test_reindexing_an_unchanged_text_keeps_its_vector(recall: Recall) -> None:
    recall.index([make_product(id="a", price=10)])
    embed(recall, {"a": unit(1)})
    recall.index([make_product(id="a", price=12)])  # same text, new price
    assert recall.pending_vectors(MODEL, limit=10) == []
    assert dense(recall, unit(1), min_price=11) == ["a"]


def test_pending_products_come_by_id_up_to_the_limit(recall: Recall) -> None:
    recall.index([make_product(id=pid, title=f"Product {pid}") for pid in "cadb"])
    embed(recall, {"b": unit(1)})
    assert [p.product_id for p in recall.pending_vectors(MODEL, limit=2)] == ["a", "c"]


def test_deleted_products_leave_the_dense_leg(recall: Recall) -> None:
    recall.index([make_product(id="a"), make_product(id="b")])
    embed(recall, {"a": unit(1), "b": unit(0, 1)})
    assert dense(recall, unit(1)) == ["a", "b"]
    recall.delete(["a"])
    assert dense(recall, unit(1)) == ["b"]
    assert recall.vector_status().with_vector == 1
    assert recall.pending_vectors(MODEL, limit=10) == []


def test_vectors_of_another_model_are_refused_with_the_fix(recall: Recall) -> None:
    recall.index([make_product(id="a"), make_product(id="b")])
    embed(recall, {"a": unit(1)})
    fix = r"shelf ingest --full FILE.*shelf embed --rebuild"
    with pytest.raises(EmbeddingMismatch, match=fix):
        embed(recall, {"b": unit(1)}, model="other-model@2")
    with pytest.raises(EmbeddingMismatch, match=fix):
        recall.pending_vectors("other-model@2", limit=10)
    recall.drop_vectors()
    assert recall.vector_status().model_id is None
    assert embed(recall, {"a": unit(1), "b": unit(0, 1)}, model="other-model@2") == 2
    assert recall.vector_status().model_id == "other-model@2"
