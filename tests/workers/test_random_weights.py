"""No random-weight model ranks outside tests: every model Shelf builds with random weights is
marked, and every entry point that loads a reranker refuses one unless
``SHELF_ALLOW_RANDOM_WEIGHTS=1`` (which tests/conftest.py sets for every other test)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from search.api.app import create_app
from search.cli.main import main
from search.errors import RandomWeightsRefused, ShelfError
from search.events.definitions import ExperimentSpec
from search.experiments.variants import VariantServices
from search.pipeline.service import SearchService
from search.recall.embedded.backend import EmbeddedRecall
from search.settings import Settings, get_settings
from tests.conftest import make_product
from workers.random_weights import (
    LEGACY_MARKER_FILE,
    RANDOM_WEIGHTS_KEY,
    has_random_weights,
    mark_random_weights,
)
from workers.rerank.model import ModelSpec, RerankModel

REFUSED = "has random weights"


def test_the_test_model_carries_the_mark_in_its_config(test_model_dir: Path) -> None:
    config = json.loads((test_model_dir / "config.json").read_text())
    assert config[RANDOM_WEIGHTS_KEY] is True
    assert has_random_weights(test_model_dir)


def test_the_mark_survives_a_save_through_transformers(
    test_model_dir: Path, tmp_path: Path
) -> None:
    from transformers import AutoConfig

    AutoConfig.from_pretrained(test_model_dir).save_pretrained(tmp_path)
    assert has_random_weights(tmp_path)


def test_the_benchmark_model_is_marked_even_when_built_before_the_mark(tmp_path: Path) -> None:
    from bench.full_size_model import full_size_model

    (tmp_path / "config.json").write_text(json.dumps({"model_type": "xlm-roberta"}))
    assert not has_random_weights(tmp_path)
    full_size_model(tmp_path)  # already built: only marked, not rebuilt
    assert has_random_weights(tmp_path)


def test_an_old_test_model_is_known_by_its_marker_file(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / LEGACY_MARKER_FILE).write_text("{}")
    assert has_random_weights(tmp_path)


def test_marking_is_idempotent(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"hidden_size": 8}))
    mark_random_weights(tmp_path)
    once = (tmp_path / "config.json").read_text()
    mark_random_weights(tmp_path)
    assert (tmp_path / "config.json").read_text() == once
    assert json.loads(once)["hidden_size"] == 8


def test_the_model_path_refuses_random_weights_unless_allowed(test_model_dir: Path) -> None:
    with pytest.raises(RandomWeightsRefused) as info:
        RerankModel(ModelSpec(str(test_model_dir), device="cpu"))
    message = str(info.value)
    assert REFUSED in message and "SHELF_RERANK_MODEL" in message
    assert "SHELF_ALLOW_RANDOM_WEIGHTS=1" in message
    allowed = RerankModel(ModelSpec(str(test_model_dir), device="cpu", allow_random_weights=True))
    allowed.close()


@pytest.fixture
def random_model_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, test_model_dir: Path) -> Path:
    """An index of three products, the test model configured, random weights NOT allowed."""
    products = tmp_path / "products.jsonl"
    products.write_text(
        "".join(
            make_product(id=f"p-{i}", title=title).model_dump_json() + "\n"
            for i, title in enumerate(["Water bottle", "Coffee mug", "Tea pot"])
        )
    )
    monkeypatch.setenv("SHELF_EMBED_MODEL", "none")
    monkeypatch.setenv("SHELF_RECALL_MODE", "bm25")
    monkeypatch.setenv("SHELF_SCORE_CACHE", "memory")
    monkeypatch.setenv("SHELF_RERANK_DEVICE", "cpu")
    (tmp_path / "queries.tsv").write_text("q1\tcoffee mug\n")
    (tmp_path / "qrels.txt").write_text("q1 0 p-1 1\n")
    get_settings.cache_clear()
    assert main(["ingest", str(products), "--json"]) == 0
    monkeypatch.delenv("SHELF_ALLOW_RANDOM_WEIGHTS")
    monkeypatch.setenv("SHELF_RERANK_MODEL", str(test_model_dir))
    get_settings.cache_clear()
    return products


def _cli(*argv: str) -> Callable[[pytest.CaptureFixture[str], Path], str]:
    def run(capsys: pytest.CaptureFixture[str], products: Path) -> str:
        capsys.readouterr()
        here = products.parent
        assert main([arg.replace("HERE", str(here)) for arg in argv]) == 1
        return capsys.readouterr().err

    return run


def _server_start(capsys: pytest.CaptureFixture[str], products: Path) -> str:
    with pytest.raises(RandomWeightsRefused) as info, TestClient(create_app(Settings())):
        pass
    return str(info.value)


def _experiment_variant(capsys: pytest.CaptureFixture[str], products: Path) -> str:
    settings = Settings(rerank_model="some-org/the-default-model")
    recall = EmbeddedRecall(settings.index_dir)
    variants = VariantServices(settings, SearchService(recall, None))
    spec = ExperimentSpec.model_validate(
        {
            "id": "random-variant",
            "variants": [
                {"name": "control"},
                {"name": "test", "overrides": {"model": get_settings().rerank_model}},
            ],
        }
    )
    try:
        with pytest.raises(ShelfError) as info:
            variants.prepare(spec)
    finally:
        variants.close()
        recall.close()
    return str(info.value)


def _fallback(capsys: pytest.CaptureFixture[str], products: Path) -> str:
    # The offline case the demo used to paper over: the configured model cannot be fetched and
    # the fallback is the random test model.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SHELF_RERANK_FALLBACK_MODEL", get_settings().rerank_model)
        patch.setenv("SHELF_RERANK_MODEL", "shelf-test/not-downloaded-reranker")
        patch.setenv("HF_HUB_OFFLINE", "1")
        get_settings.cache_clear()
        return _cli("search", "mug")(capsys, products)


ENTRY_POINTS: dict[str, Callable[[pytest.CaptureFixture[str], Path], str]] = {
    "shelf serve (the app's start-up)": _server_start,
    "shelf search": _cli("search", "mug"),
    "shelf demo": _cli("demo"),
    "shelf eval": _cli("eval", "--recall", "bm25", "--queries", "HERE/queries.tsv",
                       "--judgments", "HERE/qrels.txt"),
    "shelf worker (the Celery worker's model load)": _cli("worker"),
    "an experiment variant's model": _experiment_variant,
    "SHELF_RERANK_FALLBACK_MODEL": _fallback,
}  # fmt: skip


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_no_entry_point_ranks_with_random_weights_without_the_opt_in(
    entry: str,
    random_model_env: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("workers.tasks._state", None)  # a worker process loads its model anew
    error = ENTRY_POINTS[entry](capsys, random_model_env)
    assert REFUSED in error and "SHELF_ALLOW_RANDOM_WEIGHTS=1" in error, error
