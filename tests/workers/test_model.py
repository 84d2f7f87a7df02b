"""Loading the reranker: the real FlagEmbedding path, and clear errors when it cannot load."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from FlagEmbedding import FlagReranker

from catalog.samples import SAMPLE_CATALOG
from search.errors import ModelUnavailable
from search.settings import DEFAULT_RERANK_MODEL, Settings
from workers.model import ModelSpec, RerankModel, load_model, resolve_device
from workers.test_model import build_test_model, catalog_texts


def test_test_model_loads_through_flagreranker(rerank_model: RerankModel) -> None:
    assert isinstance(rerank_model._reranker, FlagReranker)
    assert rerank_model.device == "cpu"
    scores = rerank_model.score("wireless earbuds", ["Wireless earbuds", "Cat food", "Desk lamp"])
    assert len(scores) == 3 and len(set(scores)) == 3


def test_scores_are_deterministic_and_in_passage_order(rerank_model: RerankModel) -> None:
    passages = ["short", "a much longer passage about running shoes and socks", "mid length"]
    forward = rerank_model.score("shoes", passages)
    backward = rerank_model.score("shoes", passages[::-1])
    assert forward == pytest.approx(backward[::-1], abs=1e-5)


def test_no_passages_score_nothing(rerank_model: RerankModel) -> None:
    assert rerank_model.score("anything", []) == []


def test_default_model_is_bge_reranker_v2_m3() -> None:
    assert Settings().rerank_model == DEFAULT_RERANK_MODEL == "BAAI/bge-reranker-v2-m3"


def test_offline_hub_model_error_says_how_to_use_a_local_copy(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(ModelUnavailable) as info:
        RerankModel(ModelSpec(DEFAULT_RERANK_MODEL, device="cpu"))
    message = str(info.value)
    assert "SHELF_RERANK_MODEL=BAAI/bge-reranker-v2-m3 could not be loaded" in message
    assert "offline?" in message and "local directory" in message


def test_unreachable_hub_fails_fast_instead_of_retrying(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A closed loopback port stands in for an unreachable hub; nothing leaves this machine.
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "https://127.0.0.1:9")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(ModelUnavailable, match="hub cannot be reached"):
        RerankModel(ModelSpec("some-org/some-reranker", device="cpu"))


def test_directory_without_a_model_is_named(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="without config.json"):
        RerankModel(ModelSpec(str(tmp_path), device="cpu"))


def test_relative_path_that_does_not_exist_is_not_sent_to_the_hub() -> None:
    with pytest.raises(ModelUnavailable, match="neither a local directory nor a hub id"):
        RerankModel(ModelSpec("./models/missing", device="cpu"))


def test_cuda_requested_without_a_gpu_is_refused() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present, so cuda is a valid choice here")
    with pytest.raises(ModelUnavailable, match="no CUDA device"):
        resolve_device("cuda:0")
    assert resolve_device("auto") == "cpu"


def test_fallback_model_is_used_only_when_set_and_loudly(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    test_model_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(ModelUnavailable):
        load_model(Settings(rerank_device="cpu"))

    with caplog.at_level(logging.WARNING, logger="workers.model"):
        model = load_model(Settings(rerank_device="cpu", rerank_fallback_model=test_model_dir))
    assert model.model_dir == test_model_dir
    assert "MEANINGLESS" in caplog.text and "could not be loaded" in caplog.text


def test_test_model_build_is_reproducible(tmp_path: Path, test_model_dir: Path) -> None:
    again = build_test_model(tmp_path / "again", catalog_texts(SAMPLE_CATALOG), seed=0)
    for name in ("tokenizer.json", "model.safetensors", "config.json"):
        assert (again / name).read_bytes() == (test_model_dir / name).read_bytes(), name
