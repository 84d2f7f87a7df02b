"""Token-budget packing and the dynamic batcher, on plain functions and on the tiny model."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given
from hypothesis import strategies as st

from search.errors import RerankTimeout
from workers.batching import DynamicBatcher, Overloaded, pack_by_token_budget
from workers.rerank.model import RerankModel


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


class CountingPredict(SlowPredict):
    """SlowPredict that also counts every pair it scores."""

    def __init__(self) -> None:
        super().__init__()
        self.pairs = 0

    def __call__(self, batch: list[list[int]]) -> list[float]:
        scores = super().__call__(batch)
        self.pairs += len(batch)
        return scores


@pytest.mark.parametrize(
    "expired_at",
    [
        pytest.param("submit", id="deadline-already-past"),
        pytest.param("queued", id="deadline-passes-while-queued"),
    ],
)
def test_pairs_of_a_search_that_gave_up_never_reach_the_model(expired_at: str) -> None:
    predict = CountingPredict()
    batcher = DynamicBatcher(predict, token_budget=10_000, max_pairs=4, max_queued_pairs=1000)
    predict.release.clear()
    blocker = batcher.submit([[1]])  # holds the inference thread: the others queue behind it
    time.sleep(0.05)
    now = time.monotonic()
    deadline = now - 1 if expired_at == "submit" else now + 0.1
    gave_up = batcher.submit([[2]] * 8, deadline)
    alive = batcher.submit([[3]] * 2, now + 60)
    time.sleep(0.2)  # past the second deadline too
    predict.release.set()

    assert alive.result(timeout=5) == [1.0, 1.0] and blocker.result(timeout=5) == [1.0]
    with pytest.raises(RerankTimeout):
        gave_up.result(timeout=5)
    assert predict.pairs == 3  # the blocker and the live search: none of the 8 expired pairs
    assert batcher.expired_pairs == 8
    batcher.close()


def test_queue_is_limited_by_the_time_left_at_the_measured_rate() -> None:
    predict = CountingPredict()
    batcher = DynamicBatcher(predict, token_budget=10_000, max_pairs=4, max_queued_pairs=10**6)
    batcher.submit([[1]] * 4).result(timeout=5)  # one measured round: about 4 pairs / 10 ms
    rate = batcher.rate
    assert rate is not None and rate > 0
    predict.release.clear()
    batcher.submit([[1]])
    time.sleep(0.05)
    queued = int(rate)  # about a second of work
    batcher.submit([[1]] * queued, time.monotonic() + 60)

    with pytest.raises(Overloaded, match="would need"):
        batcher.submit([[1]] * 4, time.monotonic() + 0.5 * queued / rate)
    batcher.submit([[1]] * 4, time.monotonic() + 60)  # a search with time enough is taken
    predict.release.set()
    batcher.close()


def test_close_drops_the_queue_and_finishes_the_running_batch() -> None:
    predict = CountingPredict()
    batcher = DynamicBatcher(predict, token_budget=10_000, max_pairs=2, max_queued_pairs=1000)
    predict.release.clear()
    running = batcher.submit([[1], [1]])
    time.sleep(0.05)
    queued = [batcher.submit([[1], [1]]) for _ in range(50)]
    threading.Timer(0.1, predict.release.set).start()

    started = time.monotonic()
    batcher.close()

    assert time.monotonic() - started < 2  # one batch, not 50
    assert running.result(timeout=1) == [1.0, 1.0]
    for future in queued:
        with pytest.raises(Overloaded, match="stopping"):
            future.result(timeout=1)
    assert predict.pairs == 2
    with pytest.raises(Overloaded, match="shutting down"):
        batcher.submit([[1]])
