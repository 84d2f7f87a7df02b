"""Loading the reranker: the real FlagEmbedding path, and clear errors when it cannot load."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest
from FlagEmbedding import FlagReranker

from catalog.samples import SAMPLE_CATALOG
from search.errors import ConfigError, ModelMissing, ModelUnavailable, Overloaded
from search.rerank.cache import MemoryScoreCache, score_key
from search.rerank.rerankers import Candidate, LocalReranker
from search.settings import DEFAULT_RERANK_MODEL, Settings
from workers.rerank.model import ModelSpec, RerankModel, load_model, resolve_device
from workers.tiny_model import build_test_model, catalog_texts


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
    with pytest.raises(ModelMissing) as info:  # not here: search runs without it
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
    with pytest.raises(ModelMissing, match="hub cannot be reached"):
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


def test_fallback_model_is_used_only_when_the_model_is_missing(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    test_model_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The test model stands in for a real local copy (tests allow its random weights).
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(ModelMissing):
        load_model(Settings(rerank_device="cpu"))

    with caplog.at_level(logging.WARNING, logger="workers.rerank.model"):
        model = load_model(Settings(rerank_device="cpu", rerank_fallback_model=test_model_dir))
    model.close()
    assert model.model_dir == test_model_dir
    assert "could not be loaded" in caplog.text
    assert "reranking with SHELF_RERANK_FALLBACK_MODEL" in caplog.text

    # A model that is here but broken is a mistake to fix, never replaced by the fallback.
    broken = tmp_path / "broken"
    broken.mkdir()
    settings = Settings(
        rerank_device="cpu", rerank_model=str(broken), rerank_fallback_model=test_model_dir
    )
    with pytest.raises(ModelUnavailable, match="without config.json") as info:
        load_model(settings)
    assert not isinstance(info.value, ModelMissing)


def test_test_model_build_is_reproducible(tmp_path: Path, test_model_dir: Path) -> None:
    again = build_test_model(tmp_path / "again", catalog_texts(SAMPLE_CATALOG), seed=0)
    for name in ("tokenizer.json", "model.safetensors", "config.json"):
        assert (again / name).read_bytes() == (test_model_dir / name).read_bytes(), name


def test_shelf_path_scores_equal_plain_compute_score(
    rerank_model: RerankModel, test_model_dir: Path
) -> None:
    plain = FlagReranker(str(test_model_dir), use_fp16=False, devices=["cpu"], batch_size=64)
    long_query = "wasserflasche edelstahl " * 200  # past the query's 3/4 share of max_length
    passages = ["Trinkflasche 750 ml", "Kopfhörer " * 400, "", "Tee"] * 20
    for query in ("flasche", long_query):
        expected = plain.compute_score([(query, p) for p in passages], normalize=False)
        assert rerank_model.score(query, passages) == pytest.approx(expected, abs=1e-5)


def test_int8_quantises_every_linear_layer_and_keeps_the_ranking(
    rerank_model: RerankModel, test_model_dir: Path
) -> None:
    import torch

    int8 = RerankModel(
        ModelSpec(str(test_model_dir), device="cpu", quantize="int8", allow_random_weights=True)
    )
    linear = [m for m in int8.model.modules() if type(m) is torch.nn.Linear]
    quantised = [m for m in int8.model.modules() if "quantized" in type(m).__module__]
    assert not linear and quantised

    passages = [f"product {i} {'text ' * i}" for i in range(30)]
    fp32, q8 = rerank_model.score("product", passages), int8.score("product", passages)
    assert q8 != fp32
    agreement = sum(
        (fp32[i] - fp32[j]) * (q8[i] - q8[j]) > 0 for i in range(30) for j in range(i)
    ) / (30 * 29 / 2)
    assert agreement > 0.9
    int8.close()


def test_int8_on_a_gpu_is_refused_with_what_to_do(
    monkeypatch: pytest.MonkeyPatch, test_model_dir: Path
) -> None:
    monkeypatch.setattr("workers.rerank.model.resolve_device", lambda device: "cuda:0")
    with pytest.raises(ConfigError, match="SHELF_RERANK_QUANTIZE=int8 is for the CPU"):
        RerankModel(
            ModelSpec(
                str(test_model_dir), device="cuda:0", quantize="int8", allow_random_weights=True
            )
        )


def test_local_reranker_past_its_deadline_scores_nothing(
    rerank_model: RerankModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    scored: list[int] = []
    real_predict = rerank_model.batcher._predict

    def counting(batch: list[list[int]]) -> list[float]:
        scored.append(len(batch))
        return real_predict(batch)

    monkeypatch.setattr(rerank_model.batcher, "_predict", counting)
    cache = MemoryScoreCache()
    reranker = LocalReranker(rerank_model, cache)
    candidates = [Candidate(f"p{i}", f"product number {i} " * 50) for i in range(200)]

    scores = reranker.score("product", candidates, deadline=time.monotonic() - 1)

    assert scores == [None] * 200
    rerank_model.score("flush", ["a queue behind the expired search"])  # FIFO: after it
    assert sum(scored) == 1  # only the flush: the expired search's pairs never ran
    keys = [score_key(rerank_model.model_id, "product", c.product_id, c.text) for c in candidates]
    assert cache.get_many(keys) == [None] * 200


def test_a_batch_running_at_the_deadline_still_fills_the_cache(
    rerank_model: RerankModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    started, release = threading.Event(), threading.Event()
    real_predict = rerank_model.batcher._predict

    def held(batch: list[list[int]]) -> list[float]:
        started.set()
        release.wait(10)
        return real_predict(batch)

    monkeypatch.setattr(rerank_model.batcher, "_predict", held)
    cache = MemoryScoreCache()
    reranker = LocalReranker(rerank_model, cache)
    candidates = [Candidate(f"p{i}", f"running product {i}") for i in range(4)]
    waiting = threading.Timer(0.5, release.set)  # after the caller has given up
    waiting.start()

    scores = reranker.score("running", candidates, deadline=time.monotonic() + 0.2)

    assert started.is_set() and scores == [None] * 4
    keys = [score_key(rerank_model.model_id, "running", c.product_id, c.text) for c in candidates]
    deadline = time.monotonic() + 30
    while None in cache.get_many(keys) and time.monotonic() < deadline:
        time.sleep(0.05)
    monkeypatch.undo()
    expected = rerank_model.score("running", [c.text for c in candidates])
    assert cache.get_many(keys) == pytest.approx(expected, abs=1e-6)


def test_submit_refuses_a_full_queue_before_tokenising(
    rerank_model: RerankModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    started, release = threading.Event(), threading.Event()
    real_predict, real_preprocess = rerank_model.batcher._predict, rerank_model.preprocess
    tokenised: list[int] = []

    def held(batch: list[list[int]]) -> list[float]:
        started.set()
        release.wait(10)
        return real_predict(batch)

    def preprocess(query: str, passages: list[str]) -> list[list[int]]:
        tokenised.append(len(passages))
        return real_preprocess(query, passages)

    rerank_model.warm_up()  # measures the model's rate
    rate = rerank_model.batcher.rate
    assert rate is not None
    monkeypatch.setattr(rerank_model.batcher, "_predict", held)
    monkeypatch.setattr(rerank_model, "preprocess", preprocess)
    try:
        running = rerank_model.submit("q", ["running"])
        assert started.wait(10)
        queued = min(int(rate), 500)
        rerank_model.submit("q", ["queued"] * queued, time.monotonic() + 60)
        tokenised.clear()
        half_the_time_needed = queued / rate / 2
        with pytest.raises(Overloaded, match="SHELF_RERANK_DEADLINE_MS"):
            rerank_model.submit("q", ["one more"] * 10, time.monotonic() + half_the_time_needed)
        assert tokenised == []  # refused before any tokenising
    finally:
        release.set()
    assert running.result(timeout=30)


def test_a_failing_model_batch_degrades_the_search_instead_of_failing_it(
    rerank_model: RerankModel, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def out_of_memory(batch: list[list[int]]) -> list[float]:
        raise RuntimeError("CUDA out of memory (injected)")

    monkeypatch.setattr(rerank_model.batcher, "_predict", out_of_memory)
    reranker = LocalReranker(rerank_model, MemoryScoreCache())

    scores = reranker.score("q", [Candidate("p", "text")], deadline=time.monotonic() + 10)

    assert scores == [None]
    assert "reranking failed" in caplog.text


def test_a_worker_drops_a_task_whose_search_gives_up_while_its_pairs_queue(
    rerank_model: RerankModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workers import tasks

    queued_s = 0.3
    state = tasks.WorkerState(rerank_model, MemoryScoreCache(), soft_time_limit_s=30)
    monkeypatch.setattr(tasks, "_state", state)
    started, release = threading.Event(), threading.Event()
    real_predict = rerank_model.batcher._predict
    scored: list[int] = []

    def held(batch: list[list[int]]) -> list[float]:
        started.set()
        release.wait(10)
        scored.append(len(batch))
        return real_predict(batch)

    monkeypatch.setattr(rerank_model.batcher, "_predict", held)
    try:
        running = rerank_model.submit("q", ["the batch running"])
        assert started.wait(10)
        threading.Timer(queued_s * 2, release.set).start()
        with pytest.raises(tasks.TaskExpired, match="not scored before the search's deadline"):
            tasks.rerank(
                rerank_model.model_id,
                "q",
                [["p1", "queued behind the running batch"]],
                Settings(),
                expires_at=time.time() + queued_s,
            )
    finally:
        release.set()
    assert running.result(timeout=10)
    assert scored == [1]  # only the running batch: the task's pair never reached the model
