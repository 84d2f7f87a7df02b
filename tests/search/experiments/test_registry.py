"""The running-experiments list a server keeps: refreshed in the background, prepared first."""

from __future__ import annotations

import datetime as dt
import time

from search.errors import ModelUnavailable
from search.events.definitions import Experiment
from search.events.log import SqliteEventLog
from search.experiments.registry import RunningExperiments


def _running(experiment_id: str, minute: int = 0) -> Experiment:
    started = dt.datetime(2026, 11, 25, 12, minute, tzinfo=dt.UTC)
    return Experiment(
        id=experiment_id,
        variants=[{"name": "a"}, {"name": "b"}],  # type: ignore[list-item]
        created_at=started,
    ).moved_to("running", started)


def _wait_for(condition: object, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


def test_a_start_by_another_process_is_picked_up_in_the_background(
    event_log: SqliteEventLog,
) -> None:
    registry = RunningExperiments(event_log, refresh_s=0.05)
    registry.start()
    try:
        assert registry.running() == []
        event_log.create_experiment(_running("late"))
        assert _wait_for(lambda: [e.id for e in registry.running()] == ["late"])
    finally:
        registry.close()


def test_running_experiments_are_ordered_by_start(event_log: SqliteEventLog) -> None:
    event_log.create_experiment(_running("second", minute=5))
    event_log.create_experiment(_running("first", minute=1))
    registry = RunningExperiments(event_log)
    registry.refresh()
    assert [e.id for e in registry.running()] == ["first", "second"]


def test_an_experiment_that_cannot_be_prepared_is_left_out(event_log: SqliteEventLog) -> None:
    def prepare(experiment: Experiment) -> None:
        if experiment.id == "broken":
            raise ModelUnavailable("no such model")

    event_log.create_experiment(_running("broken"))
    event_log.create_experiment(_running("fine", minute=1))
    registry = RunningExperiments(event_log, prepare=prepare)
    registry.refresh()
    assert [e.id for e in registry.running()] == ["fine"]


def test_a_store_that_cannot_be_read_keeps_the_last_list(event_log: SqliteEventLog) -> None:
    event_log.create_experiment(_running("kept"))
    registry = RunningExperiments(event_log)
    registry.refresh()
    event_log.drop_tables()  # reads now fail
    registry.refresh()
    assert [e.id for e in registry.running()] == ["kept"]
