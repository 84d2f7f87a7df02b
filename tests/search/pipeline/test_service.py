"""The search service with a real tantivy index and the tiny model through FlagReranker."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from FlagEmbedding import FlagReranker

from catalog.samples import sample_queries
from catalog.text import rerank_text
from search.errors import InvalidQuery, LimitExceeded
from search.pipeline.config import SearchConfig
from search.pipeline.request import search_request
from search.pipeline.service import SearchService
from search.recall.embedded.backend import EmbeddedRecall
from search.rerank.cache import NoScoreCache
from search.rerank.rerankers import LocalReranker
from workers.rerank.model import RerankModel

SAMPLE = sample_queries()
ONE_PER_LOCALE = list({q["locale"]: q for q in SAMPLE}.values())


@pytest.fixture(scope="module")
def pipeline(sample_index: EmbeddedRecall, rerank_model: RerankModel) -> SearchService:
    # A deadline no busy machine misses: these tests check what reranking does, not when.
    return SearchService(
        sample_index,
        LocalReranker(rerank_model, NoScoreCache()),
        config=SearchConfig(recall_k=50, deadline_ms=20_000),
    )


@pytest.fixture(scope="module")
def independent_reranker(test_model_dir: Path) -> FlagReranker:
    """The model loaded a second time, straight through FlagEmbedding, to check Shelf against."""
    return FlagReranker(str(test_model_dir), use_fp16=False, devices=["cpu"], batch_size=64)


@pytest.mark.parametrize("query", SAMPLE[::7], ids=lambda q: q["query_id"])
def test_final_order_is_the_models_own_order(
    pipeline: SearchService, independent_reranker: FlagReranker, query: dict[str, str]
) -> None:
    request = search_request(query["text"], k=50, product_locale=query["locale"])
    lexical = pipeline.understand(request).lexical  # typos, synonyms
    hits = pipeline.recall.search(request.query, limit=50, filters=request.filters, lexical=lexical)
    assert len(hits) > 1
    pairs = [(query["text"], rerank_text(h.product)) for h in hits]
    expected_scores = independent_reranker.compute_score(pairs, normalize=False)
    expected = [
        hits[i].product.id for i in sorted(range(len(hits)), key=lambda i: -expected_scores[i])
    ]

    response = pipeline.search(request)

    assert [item.product_id for item in response.items] == expected
    by_id = {h.product.id: s for h, s in zip(hits, expected_scores, strict=True)}
    for item in response.items:
        assert item.rerank_score == pytest.approx(by_id[item.product_id], abs=1e-5)


def test_rerank_reorders_bm25_exactly_where_the_model_disagrees(
    pipeline: SearchService,
) -> None:
    reordered = 0
    for query in ONE_PER_LOCALE:
        locale = query["locale"]
        reranked = pipeline.search(search_request(query["text"], k=50, product_locale=locale))
        bm25 = pipeline.search(
            search_request(query["text"], k=50, product_locale=locale, rerank=False)
        )
        bm25_ids = [i.product_id for i in bm25.items]
        reranked_ids = [i.product_id for i in reranked.items]
        assert sorted(reranked_ids) == sorted(bm25_ids)
        score = {i.product_id: i.rerank_score or 0.0 for i in reranked.items}
        model_agrees = all(score[a] >= score[b] for a, b in itertools.pairwise(bm25_ids))
        assert (reranked_ids == bm25_ids) == model_agrees
        reordered += not model_agrees
    assert reordered >= 1


def test_without_rerank_the_order_is_bm25_and_no_model_is_named(pipeline: SearchService) -> None:
    response = pipeline.search(search_request("coffee beans", k=5, rerank=False))
    assert not response.reranked and response.model is None
    assert all(item.rerank_score is None for item in response.items)
    assert [i.position for i in response.items] == [1, 2, 3, 4, 5]
    assert "rerank" not in response.timings_ms


def test_response_has_stage_timings_and_the_model(pipeline: SearchService) -> None:
    response = pipeline.search(search_request("cat food", k=3))
    stages = {"understand", "recall", "fuse", "match_set", "rank", "rerank", "rules", "page"}
    assert set(response.timings_ms) == stages | {"total"}
    assert response.timings_ms["total"] >= response.timings_ms["rerank"] > 0
    assert response.model is not None and response.reranked


@pytest.mark.parametrize("query", ONE_PER_LOCALE, ids=lambda q: q["locale"])
def test_a_long_querys_language_is_detected_for_analysis_without_restricting_products(
    pipeline: SearchService, query: dict[str, str]
) -> None:
    request = search_request(query["text"], k=5, rerank=False)
    response = pipeline.search(request)
    language = query["locale"].split("-")[0]
    analyze_as = pipeline.understand(request).analyze_as
    # Sure: analysed as its language alone; unsure: as each plausible one, its own among them.
    assert analyze_as is not None and language in analyze_as
    assert not response.language_detected or len(analyze_as) == 1
    assert response.language == (language if len(analyze_as) == 1 else None)
    assert response.product_locale is None  # detection never decides eligibility
    assert response.items[0].locale.split("-")[0] == language


def test_a_wrong_language_guess_never_hides_products(tmp_path: Path) -> None:
    from tests.conftest import make_product

    recall = EmbeddedRecall(tmp_path / "index")
    recall.index([make_product(id="de", locale="de-DE", title="Thermoskanne Edelstahl")])
    response = SearchService(recall, None).search(
        search_request("thermoskanne stainless steel", k=5)
    )
    assert [i.product_id for i in response.items] == ["de"]
    assert response.product_locale is None


@pytest.mark.parametrize("query", ["", "   ", "\t\n", "\x00\x01"])
def test_empty_query_is_refused_clearly(pipeline: SearchService, query: str) -> None:
    with pytest.raises(InvalidQuery, match="query is empty"):
        pipeline.search(search_request(query))


def test_out_of_range_k_is_refused(pipeline: SearchService) -> None:
    with pytest.raises(LimitExceeded, match="k must be between 1 and 1000"):
        pipeline.search(search_request("coffee", k=0))
    with pytest.raises(LimitExceeded, match="query is 2001 characters"):
        pipeline.search(search_request("x" * 2001))
