"""A variant's service is the default service with another reranker, every other setting kept."""

from __future__ import annotations

from pathlib import Path

from search.pipeline.config import SearchConfig
from search.pipeline.service import SearchService
from search.recall.embedded.backend import EmbeddedRecall


def test_a_variant_service_keeps_every_setting_but_the_reranker(tmp_path: Path) -> None:
    recall = EmbeddedRecall(tmp_path / "index")
    try:
        config = SearchConfig(
            recall_k=37, deadline_ms=1234, match_floor=0.15, match_cap=99,
            typo_tolerance=False, synonyms=lambda: None,  # type: ignore[arg-type,return-value]
        )  # fmt: skip
        base = SearchService(recall, None, config=config)
        marker = object()
        variant = base.with_reranker(marker)  # type: ignore[arg-type]
        assert variant.reranker is marker and base.reranker is None
        assert variant.config is base.config  # the same frozen value: nothing re-listed
        assert (variant.recall, variant.cache, variant.embedder) == (
            base.recall, base.cache, base.embedder,
        )  # fmt: skip
        assert variant.config.match_floor == 0.15 and variant.recall is recall
    finally:
        recall.close()
