"""The result set on the embedded backend: totals, disjunctive facets, sorts and deep pages over
the match set, on real tantivy indexes (the sample catalog with the bundled embedding model's
vectors; generated catalogs for the deep walks) and the tiny rerank model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from catalog.product import Product
from catalog.samples import SAMPLE_QUERIES
from search.errors import InvalidQuery, LimitExceeded
from search.pipeline.config import SearchConfig
from search.pipeline.request import search_request
from search.pipeline.service import SearchResult, SearchService
from search.recall.embedded.backend import EmbeddedRecall
from search.recall.facets import FACETS, FacetValue
from search.rerank.cache import MemoryScoreCache
from search.rerank.rerankers import LocalReranker
from tests.conftest import make_product
from workers.embedding.model import UseEmbedder
from workers.rerank.model import RerankModel

LANGUAGES = ("en", "de", "fr", "es", "ja", "zh", "ru", "ar", "ko", "it", "pt", "nl")


@pytest.fixture(scope="module")
def hybrid(hybrid_sample_index: EmbeddedRecall, embedder: UseEmbedder) -> SearchService:
    # No reranker: the facet walk checks the match set, which reranking never changes.
    return SearchService(
        hybrid_sample_index,
        None,
        cache=MemoryScoreCache(1000),
        embedder=embedder,
        config=SearchConfig(match_floor=0.2),
    )


def _walk_queries() -> list[tuple[str, str]]:
    """Three queries per language of the sample query set, for at least eight languages."""
    per_language: dict[str, list[str]] = {}
    for line in SAMPLE_QUERIES.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        language = record["locale"].split("-")[0]
        per_language.setdefault(language, []).append(record["text"])
    chosen = [(lang, text) for lang, texts in sorted(per_language.items()) for text in texts[:3]]
    assert len({lang for lang, _ in chosen}) >= 8 and len(chosen) >= 20
    return chosen


def _filters_for(facet: str, value: FacetValue) -> dict[str, object]:
    if facet == "price":
        return {"price": value.value}  # the facet value, as a shopper's click sends it
    if facet == "in_stock":
        return {"in_stock": value.value == "true"}
    return {facet: value.value}


def _walk(
    pipeline: SearchService, query: str, filters: dict[str, object], size: int
) -> tuple[int, list[str]]:
    """The match set's total (from page 1) and every product id, page after page."""
    ids: list[str] = []
    page, total = 1, -1
    while True:
        result = pipeline.search(
            search_request(query, page=page, size=size, rerank=False, **filters)
        )
        total = result.total if page == 1 else total
        assert result.total == total  # every page agrees on the total
        ids += [item.product_id for item in result.items]
        if not result.has_more:
            return total, ids
        page += 1


@pytest.mark.slow
def test_every_facet_value_applied_as_a_filter_finds_exactly_its_count(
    hybrid: SearchService,
) -> None:
    walked = 0
    for _language, query in _walk_queries():
        first = hybrid.search(search_request(query, size=10, facets=FACETS, rerank=False))
        assert set(first.facets) == set(FACETS)
        assert len(set(_walk(hybrid, query, {}, 25)[1])) == first.total
        for facet, values in first.facets.items():
            for value in values:
                total, ids = _walk(hybrid, query, _filters_for(facet, value), 10)
                assert total == value.count, (query, facet, value)
                assert len(ids) == len(set(ids)) == value.count, (query, facet, value)
                walked += 1
    assert walked >= 200


def test_choosing_a_brand_keeps_the_other_brands_counts(hybrid: SearchService) -> None:
    every = hybrid.search(search_request("kopfhörer", facets=["brand", "price"], rerank=False))
    chosen = every.facets["brand"][0]
    narrowed = hybrid.search(
        search_request("kopfhörer", facets=["brand", "price"], brand=chosen.value, rerank=False)
    )
    assert narrowed.facets["brand"] == every.facets["brand"]  # disjunctive: brand ignores brand
    assert sum(v.count for v in narrowed.facets["price"]) == narrowed.total == chosen.count


def test_category_counts_every_breadcrumb_level(hybrid: SearchService) -> None:
    result = hybrid.search(search_request("kopfhörer", facets=["category"], rerank=False))
    levels = {v.level for v in result.facets["category"]}
    assert {1, 2} <= levels
    for value in result.facets["category"]:
        assert value.level == value.value.count(" > ") + 1


def test_the_match_set_holds_dense_neighbours_the_lexical_leg_misses(
    hybrid: SearchService,
) -> None:
    lexical = hybrid.search(search_request("kopfhörer", recall="bm25", rerank=False))
    crossed = hybrid.search(search_request("kopfhörer", recall="hybrid", rerank=False))
    assert crossed.total > lexical.total
    assert {item.locale for item in _items(hybrid, "kopfhörer")} - {"de-DE"}


def _items(pipeline: SearchService, query: str) -> list:  # type: ignore[type-arg]
    return pipeline.search(search_request(query, size=50, rerank=False)).items


def test_gibberish_has_an_empty_match_set(hybrid: SearchService) -> None:
    result = hybrid.search(search_request("qxzv wkpfj", facets=FACETS, rerank=False))
    assert (result.total, result.items, result.has_more) == (0, [], False)
    assert all(values == [] for values in result.facets.values())


@pytest.mark.parametrize(
    ("call", "error", "names"),
    [
        ({"sort": "cheapest"}, InvalidQuery, ["sort", "price_asc", "newest"]),
        ({"facets": "brand,colour"}, InvalidQuery, ["facets", "'colour'", "in_stock"]),
        ({"page": 201, "size": 50}, LimitExceeded, ["SHELF_API_MAX_RESULT_WINDOW", "200"]),
        ({"page": 0}, LimitExceeded, ["page"]),
    ],
)
def test_bad_result_set_input_names_the_parameter_and_allowed_values(
    hybrid: SearchService, call: dict[str, object], error: type[Exception], names: list[str]
) -> None:
    with pytest.raises(error) as raised:
        hybrid.search(search_request("coffee", rerank=False, **call))  # type: ignore[arg-type]
    for name in names:
        assert name in str(raised.value)


# Deep pages over generated catalogs: every product once, stable order, ties by id.


def _cups(count: int) -> list[Product]:
    """``count`` products that tie on BM25 for "red cup" (same words), varied prices and dates;
    written in a shuffled id order so no order can come from insertion."""
    order = sorted(range(count), key=lambda i: (i * 7919) % count)
    return [
        make_product(
            id=f"cup-{i:05d}",
            title=f"Red cup {i}",
            description="A red cup.",
            bullets=[],
            brand=f"Brand {i % 7}",
            category=f"Kitchen > Cups > {'Mugs' if i % 3 else 'Tumblers'}",
            price=float(5 + (i * 37) % 50),
            in_stock=i % 5 != 0,
            created_at=f"2024-01-{1 + i % 28:02d}T00:00:00Z" if i % 4 else None,
        )
        for i in order
    ]


@pytest.fixture(scope="module")
def cups_file(tmp_path_factory: pytest.TempPathFactory) -> list[Product]:
    return _cups(2000)


def _pages(pipeline: SearchService, *, size: int = 50, **call: object) -> list[SearchResult]:
    pages, page = [], 1
    while True:
        result = pipeline.search(search_request("red cup", page=page, size=size, **call))  # type: ignore[arg-type]
        pages.append(result)
        if not result.has_more:
            return pages
        page += 1


def _ids(pages: list[SearchResult]) -> list[str]:
    return [item.product_id for result in pages for item in result.items]


@pytest.mark.slow
def test_two_thousand_products_page_once_each_stably_across_cache_and_reingest(
    tmp_path: Path, cups_file: list[Product], rerank_model: RerankModel
) -> None:
    recall = EmbeddedRecall(tmp_path / "index")
    recall.index(cups_file)

    def pipeline_with(cache: MemoryScoreCache) -> SearchService:
        return SearchService(
            recall,
            LocalReranker(rerank_model, cache),
            cache=cache,
            config=SearchConfig(recall_k=50),
        )

    try:
        pipeline = pipeline_with(MemoryScoreCache(10_000))
        cold = _pages(pipeline)  # the head reranked by the model, then cached
        assert cold[0].total == 2000 and cold[0].total_exact and len(cold) == 40
        assert cold[0].reranked and cold[0].cached == 0
        ids = _ids(cold)
        assert len(ids) == len(set(ids)) == 2000
        positions = [item.position for result in cold for item in result.items]
        assert positions == list(range(1, 2001))
        # The rest follows the head in recall order: equal BM25 scores, so by product id.
        rest = ids[50:]
        assert rest == sorted(rest)

        warm_first = pipeline.search(search_request("red cup", page=1, size=50))
        assert warm_first.cached == 50
        assert [i.product_id for i in warm_first.items] == ids[:50]
        cold_third = pipeline_with(MemoryScoreCache(10)).search(
            search_request("red cup", page=3, size=50)
        )
        assert cold_third.cached == 0
        assert [i.product_id for i in cold_third.items] == ids[100:150]

        recall.begin_full()  # a re-ingest of the same file, written in another order
        recall.index(list(reversed(cups_file)))
        recall.commit_full()
        assert _ids(_pages(pipeline_with(MemoryScoreCache(10_000)))) == ids
    finally:
        recall.close()


def test_price_asc_orders_the_whole_match_set_ties_by_id_across_pages(tmp_path: Path) -> None:
    recall = EmbeddedRecall(tmp_path / "index")
    recall.index(_cups(300))
    pipeline = SearchService(recall, None, config=SearchConfig(recall_k=20))
    try:
        pages = _pages(pipeline, size=40, sort="price_asc")
        items = [item for result in pages for item in result.items]
        assert len(items) == 300 == pages[0].total
        keys = [(item.price, item.product_id) for item in items]
        assert keys == sorted(keys)
        down = [item for r in _pages(pipeline, size=40, sort="price_desc") for item in r.items]
        down_keys = [(-item.price, item.product_id) for item in down]
        assert down_keys == sorted(down_keys)
        newest = [i.product_id for r in _pages(pipeline, size=40, sort="newest") for i in r.items]
        assert len(newest) == len(set(newest)) == 300
        made = {p.id: p.created_at for p in _cups(300)}
        undated = sorted(pid for pid, when in made.items() if when is None)
        assert newest[-len(undated) :] == undated  # no date: last, by id
        dated = newest[: -len(undated)]
        keys = [(-made[pid].timestamp(), pid) for pid in dated]  # type: ignore[union-attr]
        assert keys == sorted(keys)  # newest first, ties by id
    finally:
        pipeline.close()


def test_ties_in_bm25_are_broken_by_product_id_after_each_ingest(tmp_path: Path) -> None:
    # Issue 14's reproducer, smaller: same titles, three ingests, one order.
    orders = []
    for attempt in range(3):
        recall = EmbeddedRecall(tmp_path / f"index-{attempt}")
        products = _cups(400)
        recall.index(products[attempt * 100 :] + products[: attempt * 100])
        pipeline = SearchService(recall, None, config=SearchConfig(recall_k=50))
        orders.append(_ids(_pages(pipeline, size=100, rerank=False)))
        pipeline.close()
    assert orders[0] == orders[1] == orders[2] == sorted(orders[0])


class _EveryMember:
    """The sample index, listing every member however few a page needs: the reference the
    lexical-top shortcut must agree with."""

    def __init__(self, recall: EmbeddedRecall) -> None:
        self._recall = recall

    def match_entries(self, match, *, depth=None):  # type: ignore[no-untyped-def]
        return self._recall.match_entries(match)

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._recall, name)


def test_pages_past_the_head_equal_those_ranked_over_every_member(
    hybrid_sample_index: EmbeddedRecall, embedder: UseEmbedder
) -> None:
    def pipeline(recall: object) -> SearchService:
        return SearchService(
            recall,  # type: ignore[arg-type]
            None,
            cache=MemoryScoreCache(1000),
            embedder=embedder,
            config=SearchConfig(recall_k=10, match_floor=0.2),
        )

    quick, reference = pipeline(hybrid_sample_index), pipeline(_EveryMember(hybrid_sample_index))
    compared = 0
    for _language, query in _walk_queries()[::3]:
        for page in (2, 3, 5):
            got = quick.search(search_request(query, page=page, size=12, rerank=False))
            want = reference.search(search_request(query, page=page, size=12, rerank=False))
            assert [(i.product_id, i.position, i.bm25_rank, i.dense_rank) for i in got.items] == [
                (i.product_id, i.position, i.bm25_rank, i.dense_rank) for i in want.items
            ], (query, page)
            compared += len(got.items)
    assert compared > 100
