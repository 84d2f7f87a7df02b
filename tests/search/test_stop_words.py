"""Stop words in queries weigh little in recall, but still recall what only they match."""

from __future__ import annotations

from pathlib import Path

from search.recall import SearchFilters
from search.recall.embedded.backend import EmbeddedRecall
from tests.conftest import make_product


def test_a_stop_word_match_ranks_below_a_content_word_match_and_is_still_recalled(
    tmp_path: Path,
) -> None:
    recall = EmbeddedRecall(tmp_path)
    # Without the stop-word weight "für für" (twice, in a short title) outscores "Zelt" once.
    recall.index([
        make_product(id="tent", locale="de-DE", title="Zelt", description="", bullets=[],
                     brand="", category="Sport", currency="EUR"),
        make_product(id="stop", locale="de-DE", title="für für", description="", bullets=[],
                     brand="", category="Sport", currency="EUR"),
    ])  # fmt: skip
    hits = recall.search("zelt für", limit=10, filters=SearchFilters(locale="de-DE"))
    recall.close()
    assert [h.product.id for h in hits] == ["tent", "stop"]
