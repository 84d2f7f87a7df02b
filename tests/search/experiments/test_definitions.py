"""Experiment definitions: what is refused, with which message, and the status moves."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from search.errors import InvalidQuery
from search.events.definitions import Experiment, ExperimentSpec

TWO = [{"name": "control"}, {"name": "rerank"}]


def test_control_defaults_to_the_first_variant() -> None:
    assert ExperimentSpec(id="e1", variants=TWO).control == "control"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"variants": [{"name": "a"}]}, "at least 2"),
        ({"variants": [{"name": "a"}, {"name": "a"}]}, "repeated: a"),
        ({"variants": TWO, "control": "b"}, "control 'b' is not one of"),
        ({"variants": TWO, "traffic": 0}, "greater than 0"),
        ({"variants": [{"name": "a", "weight": -1}, {"name": "b"}]}, "greater than 0"),
        ({"variants": [{"name": "a", "overrides": {"blend": 2}}, {"name": "b"}]}, "less than or"),
        ({"variants": [{"name": "a", "overrides": {"colour": 1}}, {"name": "b"}]}, "colour"),
        ({"variants": [{"name": "A B"}, {"name": "b"}]}, "pattern"),
    ],
)
def test_bad_definitions_are_refused_naming_the_problem(fields: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ExperimentSpec(id="e1", **fields)


def test_shares_are_the_normalised_weights() -> None:
    spec = ExperimentSpec(id="e1", variants=[{"name": "a", "weight": 3}, {"name": "b"}])
    assert spec.shares() == {"a": 0.75, "b": 0.25}


def test_status_moves_stamp_start_and_stop_and_stopped_is_final() -> None:
    now = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)
    draft = Experiment(id="e1", variants=TWO, created_at=now)
    running = draft.moved_to("running", now)
    assert running.started_at == now and running.status == "running"
    stopped = running.moved_to("paused").moved_to("stopped", now)
    assert stopped.stopped_at == now and stopped.started_at == now
    with pytest.raises(InvalidQuery, match="it can move to: none"):
        stopped.moved_to("running")
