"""Cross-lingual hybrid recall through the real pipeline: the sample catalog in a real tantivy
index with vectors from the real bundled embedding model (Universal Sentence Encoder
Multilingual), fused by RRF. No reranking: these tests measure recall."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog.product import Product
from catalog.samples import (
    SAMPLE_JUDGMENTS,
    SAMPLE_QUERIES,
    XLING_JUDGMENTS,
    XLING_QUERIES,
)
from search.errors import EmbeddingMismatch, InvalidQuery
from search.evaluation.compare import compare_metric
from search.evaluation.judgments import read_judgments, read_queries
from search.evaluation.run import EvalConfig, rank_queries, score
from search.pipeline.config import SearchConfig
from search.pipeline.request import search_request
from search.pipeline.service import SearchService
from search.recall.embedded.backend import EmbeddedRecall
from search.settings import Settings
from workers.embedding.model import UseEmbedder

K = 50


@pytest.fixture
def pipeline(hybrid_sample_index: EmbeddedRecall, embedder: UseEmbedder) -> SearchService:
    # The shipped match floor: what `shelf eval` and the API measure.
    floor = Settings.model_fields["dense_match_min_similarity"].default
    return SearchService(
        hybrid_sample_index,
        None,
        embedder=embedder,
        config=SearchConfig(recall_k=K, match_floor=floor),
    )


def _evaluate(pipeline: SearchService, queries: Path, judgments: Path, recall: str):  # type: ignore[no-untyped-def]
    config = EvalConfig(rerank=False, recall_k=K, recall=recall)
    ranked = rank_queries(pipeline, read_queries(queries), config)
    return score(ranked, read_judgments(judgments), 10)


def test_hybrid_finds_products_written_in_other_languages_where_bm25_cannot(
    pipeline: SearchService,
) -> None:
    hybrid = _evaluate(pipeline, XLING_QUERIES, XLING_JUDGMENTS, "hybrid").summary()["all"]
    bm25 = _evaluate(pipeline, XLING_QUERIES, XLING_JUDGMENTS, "bm25").summary()["all"]
    assert hybrid["R@50"] >= 0.85, hybrid
    assert bm25["R@50"] <= 0.2, bm25


def test_hybrid_is_not_significantly_worse_than_bm25_on_same_language_queries(
    pipeline: SearchService,
) -> None:
    hybrid = _evaluate(pipeline, SAMPLE_QUERIES, SAMPLE_JUDGMENTS, "hybrid")
    bm25 = _evaluate(pipeline, SAMPLE_QUERIES, SAMPLE_JUDGMENTS, "bm25")
    comparison = compare_metric(bm25, hybrid, "nDCG@10")
    assert comparison.delta > 0 or comparison.p_value >= 0.05, comparison


def test_each_item_says_which_legs_found_it(pipeline: SearchService) -> None:
    response = pipeline.search(search_request("Powerbank 20000 mAh", k=K, rerank=False))
    assert response.recall_mode == "hybrid"
    assert any(i.bm25_rank and i.dense_rank for i in response.items)
    assert any(i.dense_rank and not i.bm25_rank for i in response.items)
    for item in response.items:
        assert (item.bm25_rank is None) == (item.bm25_score == 0.0)
        assert (item.dense_rank is None) == (item.dense_score is None)
    assert "dense" in response.timings_ms


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_the_product_locale_filter_decides_eligibility_in_every_mode(
    pipeline: SearchService, mode: str
) -> None:
    response = pipeline.search(
        search_request("降噪耳机", k=10, rerank=False, recall=mode, product_locale="de-DE")
    )
    assert {item.locale for item in response.items} <= {"de-DE"}
    assert response.product_locale == "de-DE"


def test_the_query_language_only_decides_analysis_not_eligibility(
    pipeline: SearchService,
) -> None:
    response = pipeline.search(search_request("铸铁煎锅", k=5, rerank=False, lang="zh-CN"))
    assert response.language == "zh"
    assert "de-de-0018" in [item.product_id for item in response.items]  # the German pan


@pytest.mark.parametrize("query", ["smartphone", "camera", "Kopfhörer", "チーズ"])
def test_a_short_query_is_never_confined_to_one_guessed_language(
    pipeline: SearchService, query: str
) -> None:
    response = pipeline.search(search_request(query, k=5, rerank=False, recall="bm25"))
    assert response.language_detected is False
    assert response.product_locale is None


@pytest.mark.parametrize("gibberish", ["qzxv wplk", "asdfgh", "zzzzzz"])
def test_a_query_that_matches_no_word_and_means_nothing_finds_nothing(
    pipeline: SearchService, gibberish: str
) -> None:
    from dataclasses import replace

    pipeline = pipeline.with_config(fusion=replace(pipeline.config.fusion, dense_alone_min=0.2))
    assert pipeline.search(search_request(gibberish, k=10, rerank=False)).items == []
    cross = pipeline.search(search_request("铸铁煎锅", k=10, rerank=False, lang="zh"))
    assert cross.items  # a real cross-lingual need, with no word matched, still finds


def test_an_index_without_vectors_answers_from_bm25_and_says_how_to_fix_it(
    tmp_path: Path, sample_products: list[Product], embedder: UseEmbedder
) -> None:
    recall = EmbeddedRecall(tmp_path / "index")
    recall.index(sample_products[:40])
    pipeline = SearchService(recall, None, embedder=embedder)
    response = pipeline.search(search_request("smartphone", k=5, rerank=False))
    assert response.items and response.vectors_pending == 40
    assert response.notice is not None and "shelf embed" in response.notice
    with pytest.raises(EmbeddingMismatch, match="shelf embed"):
        pipeline.search(search_request("smartphone", k=5, rerank=False, recall="dense"))
    recall.close()


def test_vectors_of_another_model_are_refused_with_how_to_rebuild(
    hybrid_sample_index: EmbeddedRecall,
) -> None:
    class OtherModel(UseEmbedder):
        @property
        def model_id(self) -> str:
            return "someone/else@1"

    pipeline = SearchService(hybrid_sample_index, None, embedder=OtherModel(threads=1))
    with pytest.raises(EmbeddingMismatch, match="shelf embed --rebuild"):
        pipeline.search(search_request("smartphone", k=5, rerank=False))


def test_dense_or_hybrid_without_an_embedding_model_is_a_clear_error(
    hybrid_sample_index: EmbeddedRecall,
) -> None:
    pipeline = SearchService(hybrid_sample_index, None)
    assert pipeline.search(search_request("smartphone", k=3, rerank=False)).recall_mode == "bm25"
    with pytest.raises(InvalidQuery, match="SHELF_EMBED_MODEL"):
        pipeline.search(search_request("smartphone", k=3, rerank=False, recall="dense"))
    with pytest.raises(InvalidQuery, match="recall must be one of"):
        SearchService(hybrid_sample_index, None, embedder=UseEmbedder(1)).search(
            search_request("smartphone", recall="vector")
        )


def test_the_query_vector_is_computed_once_and_then_served_from_the_cache(
    hybrid_sample_index: EmbeddedRecall, embedder: UseEmbedder
) -> None:
    from search.rerank.cache import MemoryScoreCache

    calls = []

    class Counting(UseEmbedder):
        def embed_queries(self, texts, languages=None):  # type: ignore[no-untyped-def]
            calls.append(list(texts))
            return super().embed_queries(texts, languages)

    pipeline = SearchService(
        hybrid_sample_index, None, embedder=Counting(threads=1), cache=MemoryScoreCache(100, 60)
    )
    first = pipeline.search(search_request("wireless earbuds", k=5, rerank=False))
    second = pipeline.search(search_request("wireless earbuds", k=5, rerank=False))
    assert len(calls) == 1
    assert [i.product_id for i in first.items] == [i.product_id for i in second.items]
