"""A variant's pipeline is the default pipeline with another reranker, every other setting kept."""

from __future__ import annotations

from pathlib import Path

from search.experiments.variants import replace_reranker
from search.pipeline.service import SearchPipeline
from search.recall.embedded.backend import EmbeddedRecall


def test_a_variant_pipeline_keeps_every_setting_but_the_reranker(tmp_path: Path) -> None:
    recall = EmbeddedRecall(tmp_path / "index")
    try:
        base = SearchPipeline(
            recall, None, recall_k=37, deadline_ms=1234, match_floor=0.15, match_cap=99,
            typo_tolerance=False, synonyms=lambda: None,  # type: ignore[arg-type,return-value]
        )  # fmt: skip
        marker = object()
        variant = replace_reranker(base, marker)  # type: ignore[arg-type]
        assert variant.reranker is marker and base.reranker is None
        kept = {k: v for k, v in vars(base).items() if k != "reranker"}
        assert {k: v for k, v in vars(variant).items() if k != "reranker"} == kept
        assert variant.match_floor == 0.15 and variant.recall is recall
    finally:
        recall.close()
