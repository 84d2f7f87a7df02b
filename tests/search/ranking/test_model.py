"""Ranker files: the shipped default matches the features the code computes, and a file trained
on other features is refused with what differs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from search.errors import ConfigError
from search.ranking.features import FEATURE_VERSION, FEATURES
from search.ranking.model import CARD_FILE, DEFAULT_DIR, LearnedRanker, load_ranker


def test_the_shipped_default_is_trained_on_the_features_the_code_computes() -> None:
    meta = json.loads((DEFAULT_DIR / CARD_FILE).read_text(encoding="utf-8"))
    assert tuple(meta["features"]) == FEATURES, "features changed: retrain with `make ranker`"
    assert meta["feature_version"] == FEATURE_VERSION
    ranker = load_ranker("default")
    assert ranker is not None and ranker.features == FEATURES
    assert ranker.label.startswith("default@f")
    assert ranker.card["heldout"]["queries"] > 0


def test_none_is_the_fused_order() -> None:
    assert load_ranker("none") is None


def test_scores_one_number_per_row() -> None:
    ranker = load_ranker("default")
    assert ranker is not None
    rows = np.full((5, len(FEATURES)), np.nan, dtype=np.float32)
    assert ranker.score(rows).shape == (5,)
    assert ranker.score(rows[:0]).shape == (0,)


def _edited(tmp_path: Path, change: dict[str, object]) -> Path:
    copy = tmp_path / "ranker"
    shutil.copytree(DEFAULT_DIR, copy)
    meta = json.loads((copy / CARD_FILE).read_text(encoding="utf-8"))
    meta.update(change)
    (copy / CARD_FILE).write_text(json.dumps(meta), encoding="utf-8")
    return copy


# (what changed, the change, what the error must say)
REFUSED = [
    ("a feature dropped", {"features": list(FEATURES[:-1])}, f"lacks {FEATURES[-1]}"),
    ("a feature added", {"features": [*FEATURES, "colour"]}, "has unknown colour"),
    ("order", {"features": list(reversed(FEATURES))}, "another order"),
    ("version", {"feature_version": FEATURE_VERSION + 1}, "feature version"),
    ("format", {"format": 99}, "ranker format 99"),
]


@pytest.mark.parametrize(("what", "change", "says"), REFUSED, ids=[r[0] for r in REFUSED])
def test_a_ranker_trained_on_other_features_is_refused(
    tmp_path: Path, what: str, change: dict[str, object], says: str
) -> None:
    with pytest.raises(ConfigError, match=says):
        LearnedRanker.load(_edited(tmp_path, change))


def test_a_directory_without_a_ranker_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="shelf ranker train"):
        load_ranker(str(tmp_path))


@pytest.mark.parametrize(("ranker", "warned"), [("default", True), ("none", False)])
def test_a_ranker_trained_without_the_cross_encoder_says_at_start_that_it_ignores_it(
    ranker: str,
    warned: bool,
    test_model_dir: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from search.pipeline.service import make_service
    from search.settings import Settings

    settings = Settings(
        data_dir=tmp_path, rerank_model=str(test_model_dir), ranker=ranker,
        recall_mode="bm25", embed_model="none",
    )  # fmt: skip
    service = make_service(settings)
    try:
        said = [r.getMessage() for r in caplog.records if "gives it no weight" in r.getMessage()]
        assert bool(said) is warned, said
        if warned:
            assert not service.config.ranker.uses_cross_encoder  # type: ignore[union-attr]
            assert "SHELF_RANKER=none" in said[0] and "--rerank" in said[0]
    finally:
        service.close()
