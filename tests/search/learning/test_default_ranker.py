"""The shipped default ranker beats the fused order on sample queries it was not trained on,
ranked the way ``shelf eval --compare ranker=none ranker=default`` ranks them."""

from __future__ import annotations

import pytest

from catalog.samples import XLING_JUDGMENTS, XLING_QUERIES
from search.evaluation.compare import compare_metric
from search.evaluation.judgments import read_judgments, read_queries
from search.evaluation.run import EvalConfig, rank_queries, score
from search.pipeline.config import SearchConfig
from search.pipeline.service import SearchService
from search.ranking.model import load_ranker
from search.recall.embedded.backend import EmbeddedRecall
from search.settings import Settings
from workers.embedding.model import UseEmbedder


@pytest.mark.slow
def test_default_ranker_beats_the_fused_order_on_held_out_cross_language_queries(
    hybrid_sample_index: EmbeddedRecall, embedder: UseEmbedder
) -> None:
    ranker = load_ranker("default")
    assert ranker is not None
    heldout = set(ranker.card["split"]["heldout"])
    queries = [q for q in read_queries(XLING_QUERIES) if q.query_id in heldout]
    assert len(queries) >= 30  # half of the 80, less the one without a judged product
    qrels = read_judgments(XLING_JUDGMENTS)
    floor = Settings.model_fields["dense_match_min_similarity"].default
    service = SearchService(
        hybrid_sample_index, None, embedder=embedder,
        config=SearchConfig(recall_k=50, match_floor=floor),
    )  # fmt: skip
    config = EvalConfig(rerank=False, recall_k=50, recall="hybrid")
    fused = score(rank_queries(service, queries, config), qrels, 10)
    ranked = score(rank_queries(service.with_config(ranker=ranker), queries, config), qrels, 10)
    comparison = compare_metric(fused, ranked, "nDCG@10")
    assert comparison.delta >= 0.1 and comparison.p_value < 0.01, comparison
