"""Waiting for Celery results on the real Redis: whenever a result is stored, it is seen once."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest
from celery import states

from search.rerank.task_results import TaskResults
from search.settings import Settings
from workers.celery_app import make_celery_app

# (task, when its state is stored in seconds after subscribing (negative: before), state)
CASES = {
    "before subscribing": [(0, -1, states.SUCCESS)],
    "after subscribing": [(0, 0.2, states.SUCCESS)],
    "one before, one after": [(0, -1, states.SUCCESS), (1, 0.2, states.FAILURE)],
    "started, then done": [(0, 0.1, states.STARTED), (0, 0.3, states.SUCCESS)],
    "started before, done after": [(0, -1, states.STARTED), (0, 0.2, states.SUCCESS)],
    "revoked": [(0, 0.1, states.REVOKED)],
}


def _result(state: str) -> object:
    return [1.0] if state in (states.SUCCESS, states.STARTED) else RuntimeError(state)


@pytest.mark.parametrize("case", CASES)
def test_each_result_is_seen_once_whenever_it_was_stored(
    case: str, redis_url: str, tmp_path: Path
) -> None:
    app = make_celery_app(
        Settings(redis_url=redis_url, rerank_mode="celery", data_dir=tmp_path), client=True
    )
    backend = app.backend
    task_ids = [str(uuid.uuid4()) for _ in range(1 + max(t for t, _, _ in CASES[case]))]
    timers = []
    for task, at, state in CASES[case]:
        if at < 0:
            backend.store_result(task_ids[task], _result(state), state)
        else:
            timers.append(
                threading.Timer(at, backend.store_result, (task_ids[task], _result(state), state))
            )

    results = TaskResults(backend, task_ids)
    for timer in timers:
        timer.start()
    started = time.monotonic()
    seen = [(task_id, meta["status"]) for task_id, meta in results.until(started + 5)]
    took = time.monotonic() - started
    results.close()

    assert sorted(seen) == sorted(
        (task_ids[t], s) for t, _, s in CASES[case] if s in states.READY_STATES
    )
    assert took < 1.0  # as soon as the last one is stored, not at the deadline
    app.close()


def test_nothing_stored_waits_until_the_deadline_by_the_clock(
    redis_url: str, tmp_path: Path
) -> None:
    app = make_celery_app(
        Settings(redis_url=redis_url, rerank_mode="celery", data_dir=tmp_path), client=True
    )
    results = TaskResults(app.backend, [str(uuid.uuid4()) for _ in range(4)])
    started = time.monotonic()

    seen = list(results.until(started + 0.5))

    took = time.monotonic() - started
    results.close()
    assert seen == [] and 0.5 <= took < 0.6, took
    app.close()
