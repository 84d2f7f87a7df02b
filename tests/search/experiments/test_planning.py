"""The plan's baseline from the log (SQLite, then PostgreSQL), and ``shelf experiments plan``."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from search.cli.main import main
from search.events.aggregates import UnitTally
from search.events.log import Event, Impression, SqliteEventLog
from search.experiments.baseline import log_baseline, plan_experiment
from search.experiments.planning import PlanRequest
from search.experiments.stats import ratio_moments

NOW = dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC)


def _search(n: int, user: str | None, days_ago: float, page: int = 1) -> Impression:
    return Impression(f"r{n}", "coffee", "en-US", "none", ("a", "b"), user_id=user, page=page,
                      ts=NOW - dt.timedelta(days=days_ago))  # fmt: skip


def _event(n: int, kind: str, value: float | None = None) -> Event:
    return Event(
        f"e{n}.{kind}",
        kind,
        f"r{n}",
        "a",
        1,
        value=value,
        currency="USD" if value else None,
        ts=NOW,
    )


def test_the_baseline_is_the_per_user_ratio_of_the_window(event_log: SqliteEventLog) -> None:
    event_log.record_impressions(
        [
            _search(1, "u1", 1), _search(2, "u1", 2), _search(3, "u1", 3),  # 3 searches, 2 clicked
            _search(4, "u2", 1),  # 1 search, clicked twice, bought
            _search(5, "u3", 5), _search(6, "u3", 6),  # 2 searches, none clicked
            _search(7, "u1", 1, page=2),  # a second page: not a search
            _search(8, "u4", 20),  # outside the 14 days
            _search(9, None, 1),  # no unit
        ]
    )  # fmt: skip
    event_log.record_events(
        [_event(1, "click"), _event(2, "click"), _event(4, "click"), Event("e4.b", "click", "r4",
         "b", 2, ts=NOW), _event(4, "purchase", 30.0), _event(7, "click"), _event(8, "click")]
    )  # fmt: skip
    expected = [
        UnitTally("all", 3, 2, 2, 0, 0, 0.0, 0.0),
        UnitTally("all", 1, 1, 2, 1, 1, 30.0, 0.0),
        UnitTally("all", 2, 0, 0, 0, 0, 0.0, 0.0),
    ]
    for metric in ("ctr", "conversion_rate", "revenue_per_search"):
        baseline, per_day = log_baseline(event_log.engine, event_log.tables, metric, 14, NOW)
        want = ratio_moments(expected, metric)
        assert baseline is not None and want.value is not None and want.variance is not None
        assert (baseline.units, baseline.searches, per_day) == (3, 6, 3 / 14)
        assert baseline.value == pytest.approx(want.value)
        assert baseline.unit_variance == pytest.approx(want.variance * 3)
        assert baseline.searches_per_unit == 2
    plan = plan_experiment(
        PlanRequest(metric="ctr", mde=0.5), event_log.engine, event_log.tables, now=NOW
    )
    assert plan["baseline"]["source"] == "log" and plan["units_per_day"] == 3 / 14


def test_an_empty_window_asks_for_a_baseline(event_log: SqliteEventLog) -> None:
    from search.errors import InvalidQuery

    with pytest.raises(InvalidQuery, match="baseline"):
        plan_experiment(PlanRequest(metric="ctr", mde=0.1), event_log.engine, event_log.tables)


def test_shelf_experiments_plan_prints_users_and_days(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "experiments",
        "plan",
        "--metric",
        "ctr",
        "--mde",
        "0.1",
        "--baseline",
        "0.1",
        "--searches-per-unit",
        "4",
        "--units-per-day",
        "1000",
        "--weights",
        "1,1",
        "--json",
    ]
    assert main(argv) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["units_per_arm"]["control"] == pytest.approx(14751 / 4, rel=0.005)
    assert plan["days"] == pytest.approx(plan["units_total"] / 1000, rel=1e-3)
    assert main(argv[:-1]) == 0
    assert "users needed: 7,3" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "parameter"),
    [
        (["--metric", "bounce", "--mde", "0.1"], "metric"),
        (["--metric", "ctr", "--mde", "0.1", "--baseline", "1.2"], "baseline"),
        (["--metric", "ctr", "--mde", "-1", "--baseline", "0.1"], "mde"),
        (["--metric", "ctr", "--days", "0", "--baseline", "0.1"], "days"),
        (["--metric", "ctr", "--mde", "0.1", "--baseline", "0.1", "--weights", "1,-2"], "weights"),
        (["--metric", "ctr", "--mde", "0.1", "--baseline", "0.1", "--traffic", "2"], "traffic"),
        # These overflowed (OverflowError traceback) or planned 8.7e302 days.
        (["--metric", "ctr", "--mde", "0.1", "--traffic", "5e-324"], "traffic"),
        (
            [
                "--metric",
                "ctr",
                "--mde",
                "0.1",
                "--baseline",
                "0.1",
                "--units-per-day",
                "1000",
                "--traffic",
                "1e-300",
            ],
            "traffic",
        ),  # fmt: skip
        (
            ["--metric", "ctr", "--mde", "0.1", "--baseline", "0.1", "--units-per-day", "5e-324"],
            "units_per_day",
        ),  # fmt: skip
        (
            ["--metric", "ctr", "--mde", "0.1", "--baseline", "0.1", "--weights", "1000,5e-324"],
            "weights",
        ),  # fmt: skip
        (
            ["--metric", "ctr", "--mde", "0.1", "--baseline", "0.1", "--weights", "1,nan"],
            "weights",
        ),  # fmt: skip
    ],
)
def test_bad_plan_input_exits_2_naming_the_parameter(
    argv: list[str], parameter: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["experiments", "plan", *argv]) == 2
    assert parameter in capsys.readouterr().err
