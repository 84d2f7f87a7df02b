"""The embedded backend decodes each stored product once (``documents.stored_product``): warm
searches reuse the decoded product, and a changed product is never served from the old one."""

from __future__ import annotations

from pathlib import Path

from search.recall import SearchFilters
from search.recall.embedded.backend import EmbeddedRecall
from search.recall.embedded.documents import stored_product
from tests.conftest import make_product


def _bm25(recall: EmbeddedRecall, query: str) -> dict[str, tuple[str, float]]:
    hits = recall.search(query, limit=10, filters=SearchFilters())
    return {hit.product.id: (hit.product.title, hit.product.price) for hit in hits}


def test_a_warm_search_decodes_no_stored_product_again(tmp_path: Path) -> None:
    recall = EmbeddedRecall(tmp_path / "index")
    recall.index([make_product(id=f"p-{n}", title=f"Steel bottle {n}") for n in range(5)])
    _bm25(recall, "steel bottle")
    recall.products(["p-0", "p-3"])
    decoded = stored_product.cache_info().misses
    assert len(_bm25(recall, "steel bottle")) == 5
    assert set(recall.products(["p-0", "p-3"])) == {"p-0", "p-3"}
    assert stored_product.cache_info().misses == decoded
    recall.close()


def test_a_product_changed_after_it_was_found_is_found_with_its_new_record(
    tmp_path: Path,
) -> None:
    recall = EmbeddedRecall(tmp_path / "index")
    recall.index([make_product(id="p-1", title="Steel bottle", price=19.99)])
    assert _bm25(recall, "steel bottle") == {"p-1": ("Steel bottle", 19.99)}
    assert recall.products(["p-1"])["p-1"].price == 19.99
    recall.index([make_product(id="p-1", title="Steel bottle XL", price=24.5)])
    assert _bm25(recall, "steel bottle") == {"p-1": ("Steel bottle XL", 24.5)}
    assert recall.products(["p-1"])["p-1"].price == 24.5
    recall.close()
