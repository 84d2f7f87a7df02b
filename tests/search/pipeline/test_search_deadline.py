"""The search deadline and cancellation on the real search path (a real tantivy index, the tiny
reranking model): where the deadline passes decides the outcome, and a cancelled search stops at
its next check. The clock is the deadline's own, moved by a wrapper around the real index when
a stage runs, so nothing here depends on how busy the machine is."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest

from search.errors import SearchAbandoned, SearchTimeout
from search.metrics import SEARCHES_STOPPED
from search.pipeline.config import SearchConfig
from search.pipeline.request import search_request
from search.pipeline.service import LATE_NOTICE, SearchService
from search.query.budget import Deadline
from search.recall.embedded.backend import EmbeddedRecall
from search.rerank.cache import NoScoreCache
from search.rerank.rerankers import LocalReranker
from workers.rerank.model import RerankModel
from workers.rerank.scoring import Candidate, submit_and_store

BUDGET_MS = 1000.0


class Clock:
    """A clock that stands still until told to jump."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class TimedIndex:
    """The real index; when ``at`` (one of its methods) runs, ``then`` is called after it."""

    def __init__(self, inner: EmbeddedRecall, at: str, then: Any) -> None:
        self._inner, self._at, self._then = inner, at, then

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._inner, name)
        if name != self._at:
            return method

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            result = method(*args, **kwargs)
            self._then()
            return result

        return wrapped


@pytest.fixture(scope="module")
def reranker(rerank_model: RerankModel) -> LocalReranker:
    return LocalReranker(rerank_model, NoScoreCache())


def _search(index: Any, reranker: LocalReranker, deadline: Deadline) -> Any:
    service = SearchService(
        index, reranker, config=SearchConfig(recall_mode="bm25", deadline_ms=20_000)
    )
    return service.search(search_request("wireless headphones", k=10), deadline=deadline)


@pytest.mark.parametrize(
    ("passes_during", "stops_before"),
    [
        ("languages", "dense"),  # understanding (the index's languages): nothing found yet
        ("search_legs", "match_set"),  # recall: candidates, but no match set to page
    ],
)
def test_a_deadline_passing_before_the_match_set_stops_the_search_with_a_timeout(
    sample_index: EmbeddedRecall, reranker: LocalReranker, passes_during: str, stops_before: str
) -> None:
    clock = Clock()
    deadline = Deadline(BUDGET_MS, clock=clock)

    def jump() -> None:
        clock.now += 2 * BUDGET_MS / 1000

    before = SEARCHES_STOPPED.labels("timeout", stops_before)._value.get()
    with pytest.raises(SearchTimeout, match="SHELF_SEARCH_DEADLINE_MS") as stopped:
        _search(TimedIndex(sample_index, passes_during, jump), reranker, deadline)
    assert stopped.value.stage == stops_before and stopped.value.status_code == 504
    assert SEARCHES_STOPPED.labels("timeout", stops_before)._value.get() == before + 1


def test_a_deadline_passing_during_the_match_set_answers_in_recall_order(
    sample_index: EmbeddedRecall, reranker: LocalReranker
) -> None:
    clock = Clock()

    def jump() -> None:
        clock.now += 2 * BUDGET_MS / 1000

    in_time = _search(TimedIndex(sample_index, "match_count", jump), reranker, Deadline(None))
    assert in_time.reranked  # the same search with time left is reranked
    deadline = Deadline(BUDGET_MS, clock=clock)
    late = _search(TimedIndex(sample_index, "match_count", jump), reranker, deadline)
    assert late.items and not late.reranked and late.degraded
    assert late.notice is not None and LATE_NOTICE in late.notice
    assert [i.position for i in late.items] == list(range(1, len(late.items) + 1))


@pytest.mark.parametrize(
    ("cancelled_during", "stops_before"),
    [
        ("languages", "dense"),
        ("search_legs", "match_set"),
        ("match_count", "rank"),
    ],
)
def test_a_cancelled_search_stops_at_its_next_check_and_logs_where(
    sample_index: EmbeddedRecall,
    reranker: LocalReranker,
    caplog: pytest.LogCaptureFixture,
    cancelled_during: str,
    stops_before: str,
) -> None:
    deadline = Deadline(60_000)
    index = TimedIndex(sample_index, cancelled_during, lambda: deadline.cancel("test"))
    with caplog.at_level(logging.INFO), pytest.raises(SearchAbandoned) as stopped:
        _search(index, reranker, deadline)
    assert stopped.value.stage == stops_before
    record = next(r for r in caplog.records if r.getMessage() == "search abandoned")
    assert record.stage == stops_before  # type: ignore[attr-defined]
    assert record.stopped_ms_after_cancel >= 0  # type: ignore[attr-defined]


def test_a_search_with_its_deadline_already_passed_does_nothing(
    sample_index: EmbeddedRecall, reranker: LocalReranker
) -> None:
    calls: list[str] = []
    index = TimedIndex(sample_index, "search_legs", lambda: calls.append("recall"))
    with pytest.raises(SearchTimeout) as stopped:
        _search(index, reranker, Deadline(0.0))
    assert stopped.value.stage == "understand" and calls == []


def test_a_search_abandoned_while_it_waits_for_the_model_stops_waiting(
    sample_index: EmbeddedRecall,
    rerank_model: RerankModel,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The model is busy with another caller's long batch: this search's pairs queue behind it.
    busy = [Candidate(f"busy-{i}", f"text {i} " + "words " * 60) for i in range(2000)]
    started = time.monotonic()
    backlog = submit_and_store(
        rerank_model, NoScoreCache(), "busy", busy, where="local", deadline=started + 30
    )
    deadline = Deadline(60_000)
    threading.Timer(0.2, deadline.cancel, args=("test",)).start()
    with caplog.at_level(logging.INFO), pytest.raises(SearchAbandoned) as stopped:
        _search(sample_index, LocalReranker(rerank_model, NoScoreCache()), deadline)
    stopped_at = time.monotonic()
    assert stopped.value.stage == "rules"  # the rank stage ended unscored: it stopped waiting
    assert not backlog.done(), "the model was not busy: this test proves nothing"
    record = next(r for r in caplog.records if r.getMessage() == "search abandoned")
    assert record.stopped_ms_after_cancel < 500  # type: ignore[attr-defined]  # slices: 20 ms
    assert stopped_at - started < 5
    backlog.result(timeout=60)  # let the model finish before the next test uses it
