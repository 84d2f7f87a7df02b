"""What every ``FullReload`` must do: a full load is built out of sight, made live in one step
or thrown away, for the products and for their vectors. On both backends (the ``recall``
fixture of tests/search/recall/conftest.py)."""

from __future__ import annotations

import pytest

from search.recall import Recall
from tests.conftest import make_product
from tests.search.recall.contract import (
    MODEL,
    bm25_ids,
    dense,
    diverges_on_elasticsearch,
    embed,
    unit,
)


def test_a_full_load_is_invisible_until_committed(recall: Recall) -> None:
    recall.index([make_product(id="old", title="Red kettle")])
    recall.begin_full()
    recall.index([make_product(id="new", title="Blue kettle")])
    assert bm25_ids(recall, "kettle") == ["old"]
    assert set(recall.content_hashes(["old", "new"])) == {"old"}
    recall.commit_full()
    assert bm25_ids(recall, "kettle") == ["new"]
    assert recall.count() == 1


def test_an_aborted_full_load_leaves_the_live_catalog_as_it_was(recall: Recall) -> None:
    recall.index([make_product(id="old", title="Red kettle")])
    recall.begin_full()
    recall.index([make_product(id="new", title="Blue kettle")])
    recall.abort_full()
    assert bm25_ids(recall, "kettle") == ["old"]
    recall.index([make_product(id="later", title="Green kettle")])
    assert sorted(bm25_ids(recall, "kettle")) == ["later", "old"]


def test_a_full_reload_drops_deleted_products_and_makes_changed_texts_pending(
    recall: Recall,
) -> None:
    recall.index([make_product(id=pid, title=f"Product {pid}") for pid in "abc"])
    embed(recall, {"a": unit(1), "b": unit(1, 1), "c": unit(1, 2)})
    recall.begin_full()
    recall.index([make_product(id="a", title="Product a"), make_product(id="b", title="New b")])
    assert dense(recall, unit(1)) == ["a", "b", "c"]  # the new catalog is out of sight
    recall.commit_full()
    pending = {p.product_id: p.text for p in recall.pending_vectors(MODEL, limit=10)}
    assert "c" not in pending and "New b" in pending["b"]
    assert set(dense(recall, unit(1))) <= {"a"}


def test_a_full_reload_keeps_the_vectors_of_unchanged_texts(
    recall: Recall, request: pytest.FixtureRequest
) -> None:
    diverges_on_elasticsearch(
        request, "a full reload's new Elasticsearch index starts without vectors (by design)"
    )
    recall.index([make_product(id=pid, title=f"Product {pid}") for pid in "ab"])
    embed(recall, {"a": unit(1), "b": unit(1, 1)})
    recall.begin_full()
    recall.index([make_product(id="a", title="Product a"), make_product(id="b", title="New b")])
    recall.commit_full()
    assert [p.product_id for p in recall.pending_vectors(MODEL, limit=10)] == ["b"]
    assert dense(recall, unit(1)) == ["a"]
    status = recall.vector_status()
    assert (status.with_vector, status.without_vector) == (1, 1)


def test_an_aborted_full_reload_leaves_products_and_vectors_as_they_were(recall: Recall) -> None:
    recall.index([make_product(id="a", title="Product a")])
    embed(recall, {"a": unit(1)})
    recall.begin_full()
    recall.index([make_product(id="a", title="Changed a"), make_product(id="new")])
    recall.abort_full()
    assert dense(recall, unit(1)) == ["a"]
    assert recall.pending_vectors(MODEL, limit=10) == []
    assert recall.vector_status().with_vector == 1
