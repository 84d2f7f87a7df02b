"""What every ``MatchSet`` must do: the total, members, sorted windows and disjunctive facet counts
of everything a query matches, and the dense neighbours that join it. On both backends (the
``recall`` and ``shop`` fixtures of tests/search/recall/conftest.py)."""

from __future__ import annotations

import pytest

from search.recall import Recall, SearchFilters
from search.recall.facets import FacetValue, MatchQuery
from tests.conftest import make_product
from tests.search.recall.contract import SCORE_TOLERANCE, embed, unit, with_cosine

EDGES = (10.0, 20.0)


def _match(text: str | None = "red", neighbours: tuple[str, ...] = (), **filters: object):  # type: ignore[no-untyped-def]
    return MatchQuery(text, None, neighbours, SearchFilters(**filters))  # type: ignore[arg-type]


def test_the_total_counts_every_lexical_match_under_the_filters(shop: Recall) -> None:
    assert shop.match_count(_match()) == (4, True)
    assert shop.match_count(_match(brand="acme")) == (2, True)
    assert shop.match_count(_match(category="Kitchen")) == (3, True)


def test_neighbours_join_the_match_set_only_where_the_filters_allow(shop: Recall) -> None:
    assert shop.match_count(_match(neighbours=("e",))) == (5, True)
    assert shop.match_count(_match(neighbours=("e",), max_price=6.0)) == (1, True)
    assert shop.match_count(_match(None, neighbours=("e", "d"))) == (2, True)


def test_entries_list_every_member_with_score_price_and_time(shop: Recall) -> None:
    entries = {e.product_id: e for e in shop.match_entries(_match(neighbours=("e",)))}
    assert set(entries) == {"a", "b", "c", "d", "e"}
    assert entries["e"].bm25_score == 0.0 and entries["a"].bm25_score > 0.0
    assert (entries["c"].price, entries["b"].price) == (19.99, 10.0)
    assert entries["a"].created_at == 1_709_251_200_000_000  # 2024-03-01 UTC, microseconds
    assert entries["c"].created_at == 1_735_682_400_000_000  # +02:00 read as its UTC instant
    assert entries["b"].created_at is None


def test_price_buckets_are_half_open_so_an_edge_price_counts_once(shop: Recall) -> None:
    counts = shop.facet_counts(_match(), ["price"], price_edges=EDGES, max_values=10)
    # 5 -> [0, 10); 10 and 19.99 -> [10, 20); 20 -> [20, inf)
    assert counts == {
        "price": [FacetValue("0-10", 1), FacetValue("10-20", 2), FacetValue("20-", 1)]
    }
    assert shop.match_count(_match(min_price=10.0, price_below=20.0)) == (2, True)


def test_a_facets_counts_ignore_its_own_filter_and_honour_the_others(shop: Recall) -> None:
    facets = ["category", "brand", "in_stock"]
    counts = shop.facet_counts(
        _match(brand="acme", in_stock=True), facets, price_edges=EDGES, max_values=10
    )
    assert counts["brand"] == [FacetValue("Acme", 1), FacetValue("Brewer", 1),
                               FacetValue("Knit", 1)]  # fmt: skip
    assert counts["in_stock"] == [FacetValue("true", 1), FacetValue("false", 1)]
    assert counts["category"] == [
        FacetValue("Kitchen", 1, 1),
        FacetValue("Kitchen > Mugs", 1, 2),
    ]


def test_brand_spellings_of_one_key_are_one_value(shop: Recall) -> None:
    counts = shop.facet_counts(_match(), ["brand"], price_edges=EDGES, max_values=10)
    # "Acme" and "ACME" once each: the tie goes to the smallest spelling.
    assert counts["brand"] == [FacetValue("ACME", 2), FacetValue("Brewer", 1),
                               FacetValue("Knit", 1)]  # fmt: skip


def test_pages_and_sorts_walk_the_match_set_once_on_every_backend(recall: Recall) -> None:  # noqa: F811
    from search.pipeline.config import SearchConfig
    from search.pipeline.request import search_request
    from search.pipeline.service import SearchService

    recall.index(
        [make_product(id=f"m{i:02d}", title=f"Red mug {i}", price=float(i % 6)) for i in range(31)]
        + [make_product(id="other", title="Blue scarf")]
    )
    pipeline = SearchService(recall, None, config=SearchConfig(recall_k=10))
    for sort in ("relevance", "price_asc"):
        seen, page = [], 1
        while True:
            result = pipeline.search(
                search_request("red mug", page=page, size=7, sort=sort, rerank=False)
            )
            assert (result.total, result.total_exact) == (31, True)
            seen += result.items
            if not result.has_more:
                break
            page += 1
        assert sorted(item.product_id for item in seen) == [f"m{i:02d}" for i in range(31)]
        assert [item.position for item in seen] == list(range(1, 32))
        if sort == "price_asc":
            keys = [(item.price, item.product_id) for item in seen]
            assert keys == sorted(keys)


@pytest.mark.parametrize(
    ("sort", "start", "end", "expected"),
    [("price_asc", 0, 4, ["a", "b", "c", "d"]), ("price_asc", 1, 3, ["b", "c"]),
     ("price_desc", 0, 2, ["d", "c"]), ("price_asc", 3, 10, ["d"]), ("price_asc", 4, 8, [])],
)  # fmt: skip
def test_a_window_is_a_slice_of_the_match_set_in_sort_order(
    shop: Recall, sort: str, start: int, end: int, expected: list[str]
) -> None:
    assert [e.product_id for e in shop.match_window(_match(), sort, start, end)] == expected


def test_newest_first_puts_products_without_a_date_last_ties_by_id(shop: Recall) -> None:
    assert [e.product_id for e in shop.match_window(_match(), "newest", 0, 4)] == [
        "c", "a", "b", "d"]  # fmt: skip


def test_dense_neighbours_are_those_reaching_the_floor_best_first_up_to_the_cap(
    recall: Recall,
) -> None:
    cosines = {"a": 0.9, "b": 0.7, "c": 0.8, "d": 0.3, "e": -0.5}
    recall.index([make_product(id=pid, title=f"Product {pid}", price=10.0) for pid in cosines])
    embed(recall, {pid: with_cosine(c) for pid, c in cosines.items()})
    found, cut = recall.dense_neighbours(unit(1).tolist(), 0.5, None, 10)
    assert [pid for pid, _ in found] == ["a", "c", "b"] and not cut
    for pid, cosine in found:
        assert cosine == pytest.approx(cosines[pid], abs=SCORE_TOLERANCE)
    found, cut = recall.dense_neighbours(unit(1).tolist(), 0.5, None, 2)
    assert [pid for pid, _ in found] == ["a", "c"] and cut
    found, _ = recall.dense_neighbours(unit(1).tolist(), 0.5, SearchFilters(max_price=5.0), 10)
    assert found == []
