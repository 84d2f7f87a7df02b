"""Token-budget packing and the dynamic batcher, on plain functions and on the tiny model."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workers.batching import DynamicBatcher, Overloaded, pack_by_token_budget
from workers.model import RerankModel


@given(
    lengths=st.lists(st.integers(1, 600), max_size=200),
    budget=st.integers(1, 20_000),
    max_pairs=st.integers(1, 128),
)
def test_packing_places_every_pair_once_within_budget(
    lengths: list[int], budget: int, max_pairs: int
) -> None:
    batches = pack_by_token_budget(lengths, budget, max_pairs)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    for batch in batches:
        assert 1 <= len(batch) <= max_pairs
        cost = len(batch) * max(lengths[i] for i in batch)
        assert cost <= budget or len(batch) == 1  # an over-long pair runs alone


def test_packing_groups_similar_lengths_to_save_padding() -> None:
    lengths = [10, 500, 12, 480, 11, 490]
    batches = pack_by_token_budget(lengths, token_budget=1500, max_pairs=64)
    assert batches == [[1, 5, 3], [2, 4, 0]]


class SlowPredict:
    """Records the batches it is given; each forward pass takes a little time."""

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.release = threading.Event()
        self.release.set()

    def __call__(self, batch: list[list[int]]) -> list[float]:
        self.release.wait()
        self.batches.append(len(batch))
        time.sleep(0.01)
        return [float(len(ids)) for ids in batch]


def test_concurrent_requests_share_batches() -> None:
    predict = SlowPredict()
    batcher = DynamicBatcher(predict, token_budget=10_000, max_pairs=64, max_queued_pairs=1000)
    predict.release.clear()  # hold the first batch so the others queue up behind it
    first = batcher.submit([[1, 2]])
    time.sleep(0.05)
    futures = [batcher.submit([[1] * n, [1] * (n + 1)]) for n in range(1, 9)]
    predict.release.set()

    assert first.result(timeout=5) == [2.0]
    assert [f.result(timeout=5) for f in futures] == [[float(n), float(n + 1)] for n in range(1, 9)]
    assert predict.batches == [1, 16]  # the eight waiting requests ran as one batch
    batcher.close()


def test_full_queue_sheds_load_with_a_clear_error() -> None:
    predict = SlowPredict()
    predict.release.clear()
    batcher = DynamicBatcher(predict, token_budget=10_000, max_pairs=64, max_queued_pairs=4)
    batcher.submit([[1]])  # taken by the inference thread, which now waits
    time.sleep(0.05)
    batcher.submit([[1]] * 4)
    with pytest.raises(Overloaded, match="SHELF_RERANK_MAX_QUEUED_PAIRS=4"):
        batcher.submit([[1]])
    predict.release.set()
    batcher.close()


def test_a_failing_batch_fails_its_requests_and_the_batcher_keeps_serving() -> None:
    calls = []

    def predict(batch: list[list[int]]) -> list[float]:
        calls.append(len(batch))
        if len(calls) == 1:
            raise RuntimeError("CUDA out of memory (injected)")
        return [0.5] * len(batch)

    batcher = DynamicBatcher(predict, token_budget=100, max_pairs=8, max_queued_pairs=100)
    with pytest.raises(RuntimeError, match="injected"):
        batcher.submit([[1, 2, 3]]).result(timeout=5)
    assert batcher.submit([[1]]).result(timeout=5) == [0.5]
    batcher.close()


def test_model_scores_concurrent_requests_as_it_scores_them_alone(
    rerank_model: RerankModel,
) -> None:
    requests = [
        (f"query {i}", [f"product {j} for shoppers {'x ' * (i * j % 40)}" for j in range(20)])
        for i in range(8)
    ]
    alone = [rerank_model.score(q, passages) for q, passages in requests]
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda r: rerank_model.score(*r), requests))
    for mine, theirs in zip(together, alone, strict=True):
        assert mine == pytest.approx(theirs, abs=1e-5)
