"""What every ``ProductIndex`` must do (index, replace, delete, count, look up by id), on both
backends: the ``recall`` fixture (tests/search/recall/conftest.py) supplies them."""

from __future__ import annotations

from catalog.text import content_hash
from search.recall import Recall
from tests.conftest import make_product
from tests.search.recall.contract import bm25_ids


def test_indexed_products_are_found_by_title_words(recall: Recall) -> None:
    recall.index([make_product(id="a", title="Insulated water bottle"),
                  make_product(id="b", title="Yoga mat", description="Non-slip")])  # fmt: skip
    assert bm25_ids(recall, "bottle") == ["a"]
    assert recall.count() == 2


def test_reindexing_an_id_replaces_the_product(recall: Recall) -> None:
    recall.index([make_product(id="a", title="Red kettle")])
    recall.index([make_product(id="a", title="Blue teapot")])
    assert recall.count() == 1
    assert bm25_ids(recall, "kettle") == []
    assert bm25_ids(recall, "teapot") == ["a"]


def test_deleted_products_are_not_recalled(recall: Recall) -> None:
    recall.index([make_product(id="a", title="Red kettle"), make_product(id="b", title="Kettle")])
    recall.delete(["a"])
    assert bm25_ids(recall, "kettle") == ["b"]


def test_content_hashes_answer_for_stored_ids_only(recall: Recall) -> None:
    product = make_product(id="a")
    recall.index([product])
    assert recall.content_hashes(["a", "missing"]) == {"a": content_hash(product)}
    assert recall.content_hashes([]) == {}


def test_products_are_fetched_by_id(shop: Recall) -> None:
    found = shop.products(["a", "c", "missing"])
    assert sorted(found) == ["a", "c"] and found["c"].title == "Red teapot"
