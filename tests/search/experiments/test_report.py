"""The experiment report read from a real store: SQLite and the real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from search.events.definitions import Experiment, Variant
from search.events.log import Event, Impression, SqliteEventLog
from search.experiments.report import experiment_report

DAY1 = dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC)
DAY2 = dt.datetime(2026, 11, 26, 23, 59, tzinfo=dt.UTC)
EXPERIMENT = Experiment(
    id="exp",
    variants=[Variant(name="control"), Variant(name="treatment")],
    status="running",
    created_at=DAY1,
)


def _search(
    request_id: str,
    user: str | None,
    variant: str = "control",
    *,
    locale: str | None = "de",
    ts: dt.datetime = DAY1,
    experiment: str | None = "exp",
) -> Impression:
    return Impression(
        request_id,
        "kaffee",
        locale,
        variant,
        ("p1", "p2", "p3"),
        user_id=user,
        ts=ts,
        experiment_id=experiment,
    )


def _event(event_id: str, request_id: str, type: str = "click", **fields: Any) -> Event:
    values: dict[str, Any] = {"product_id": "p1", "position": 1} | fields
    return Event(event_id=event_id, type=type, request_id=request_id, **values)


def _variants(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["variant"]: v for v in report["overall"]["variants"]}


def _write_small_experiment(event_log: SqliteEventLog) -> None:
    event_log.record_impressions(
        [
            _search("r1", "u1"),
            _search("r2", "u1"),
            _search("r3", "u2"),
            _search("r4", "u3", "treatment"),
            _search("r5", "u3", "treatment"),
        ]
    )
    event_log.record_events(
        [
            _event("e1", "r1", position=2),
            _event("e2", "r1", position=1),
            _event("e3", "r1", "purchase", value=10.0),
            _event("e4", "r4", position=3),
            _event("e5", "r4", "purchase", value=5.5),
            _event("e6", "r4", "purchase", value=1.0),
            _event("e7", "r5", "add_to_cart"),
        ]
    )


def test_counts_equal_what_was_written(event_log: SqliteEventLog) -> None:
    _write_small_experiment(event_log)
    variants = _variants(experiment_report(event_log, EXPERIMENT))
    control, treatment = variants["control"], variants["treatment"]
    assert (control["impressions"], control["users"], control["clicks"]) == (3, 2, 2)
    assert (control["purchases"], control["revenue"], control["add_to_carts"]) == (1, 10.0, 0)
    assert (treatment["impressions"], treatment["users"], treatment["clicks"]) == (2, 1, 1)
    assert (treatment["purchases"], treatment["revenue"], treatment["add_to_carts"]) == (2, 6.5, 1)


def test_metrics_are_ratios_over_searches(event_log: SqliteEventLog) -> None:
    _write_small_experiment(event_log)
    control, treatment = _variants(experiment_report(event_log, EXPERIMENT)).values()
    assert control["metrics"]["ctr"]["value"] == pytest.approx(1 / 3)
    assert control["metrics"]["clicks_per_search"]["value"] == pytest.approx(2 / 3)
    assert control["metrics"]["mrr"]["value"] == pytest.approx(1 / 3)  # first click at 1
    assert treatment["metrics"]["mrr"]["value"] == pytest.approx(1 / 3 / 2)  # first click at 3
    assert treatment["metrics"]["conversion_rate"]["value"] == pytest.approx(1 / 2)
    assert treatment["metrics"]["revenue_per_search"]["value"] == pytest.approx(6.5 / 2)


def test_events_of_other_experiments_and_unknown_requests_are_not_counted(
    event_log: SqliteEventLog,
) -> None:
    event_log.record_impressions(
        [
            _search("r1", "u1"),
            _search("other", "u2", experiment="other-exp"),
            _search("outside", "u3", experiment=None, variant="default"),
        ]
    )
    event_log.record_events(
        [
            _event("e1", "r1"),
            _event("e2", "other"),
            _event("e3", "outside", "purchase", value=99.0),
            _event("e4", "never-shown"),
        ]
    )
    control = _variants(experiment_report(event_log, EXPERIMENT))["control"]
    assert (control["impressions"], control["users"], control["clicks"]) == (1, 1, 1)
    assert control["revenue"] == 0.0


def test_duplicate_event_ids_are_counted_once(event_log: SqliteEventLog) -> None:
    event_log.record_impressions([_search("r1", "u1")])
    event_log.record_events([_event("e1", "r1"), _event("e1", "r1", position=4)])
    event_log.record_events([_event("e1", "r1")])
    assert _variants(experiment_report(event_log, EXPERIMENT))["control"]["clicks"] == 1


def test_searches_without_a_unit_are_left_out(event_log: SqliteEventLog) -> None:
    event_log.record_impressions([_search("r1", "u1"), _search("anon", None)])
    event_log.record_events([_event("e1", "anon")])
    control = _variants(experiment_report(event_log, EXPERIMENT))["control"]
    assert (control["impressions"], control["clicks"]) == (1, 0)


def test_by_locale_splits_the_searches_and_names_a_missing_locale_unknown(
    event_log: SqliteEventLog,
) -> None:
    event_log.record_impressions(
        [
            _search("r1", "u1", locale="fr"),
            _search("r2", "u1", locale="de"),
            _search("r3", "u2", locale="de"),
            _search("r4", "u3", "treatment", locale=None),
        ]
    )
    event_log.record_events([_event("e1", "r2"), _event("e2", "r4")])
    by_locale = experiment_report(event_log, EXPERIMENT)["by_locale"]
    assert [entry["locale"] for entry in by_locale] == ["de", "fr", "unknown"]
    counts = {
        entry["locale"]: {
            v["variant"]: (v["impressions"], v["users"], v["clicks"]) for v in entry["variants"]
        }
        for entry in by_locale
    }
    assert counts["de"] == {"control": (2, 2, 1), "treatment": (0, 0, 0)}
    assert counts["fr"] == {"control": (1, 1, 0), "treatment": (0, 0, 0)}
    assert counts["unknown"] == {"control": (0, 0, 0), "treatment": (1, 1, 1)}


def test_by_day_splits_the_searches_by_utc_day(event_log: SqliteEventLog) -> None:
    late_evening_in_new_york = dt.datetime(
        2026, 11, 26, 21, tzinfo=dt.timezone(dt.timedelta(hours=-5))
    )
    event_log.record_impressions(
        [
            _search("r1", "u1", ts=DAY2),
            _search("r2", "u1", ts=DAY1),
            _search("r3", "u2", "treatment", ts=late_evening_in_new_york),
        ]
    )
    by_day = experiment_report(event_log, EXPERIMENT)["by_day"]
    assert [entry["day"] for entry in by_day] == ["2026-11-25", "2026-11-26", "2026-11-27"]
    impressions = [[v["impressions"] for v in entry["variants"]] for entry in by_day]
    assert impressions == [[1, 0], [1, 0], [0, 1]]


def test_a_60_40_split_of_users_raises_the_srm_warning(event_log: SqliteEventLog) -> None:
    searches = [_search(f"c{i}", f"c{i}") for i in range(600)]
    searches += [_search(f"t{i}", f"t{i}", "treatment") for i in range(400)]
    event_log.record_impressions(searches)
    report = experiment_report(event_log, EXPERIMENT)
    assert report["srm"]["warning"] is True
    assert report["srm"]["observed"] == {"control": 600, "treatment": 400}
    assert any("sample ratio mismatch" in warning for warning in report["warnings"])


def test_an_even_split_raises_no_srm_warning(event_log: SqliteEventLog) -> None:
    searches = [_search(f"c{i}", f"c{i}") for i in range(500)]
    searches += [_search(f"t{i}", f"t{i}", "treatment") for i in range(500)]
    event_log.record_impressions(searches)
    report = experiment_report(event_log, EXPERIMENT)
    assert report["srm"]["warning"] is False and report["warnings"] == []


def test_an_experiment_without_data_says_so_in_strict_json(event_log: SqliteEventLog) -> None:
    report = experiment_report(event_log, EXPERIMENT)
    json.dumps(report, allow_nan=False)
    assert report["warnings"] == ["no data yet: no search has been assigned to this experiment"]
    assert report["by_locale"] == [] and report["by_day"] == []


def test_the_report_is_strict_json_and_names_the_experiment(event_log: SqliteEventLog) -> None:
    _write_small_experiment(event_log)
    report = experiment_report(event_log, EXPERIMENT)
    assert json.loads(json.dumps(report, allow_nan=False))["experiment"]["id"] == "exp"
    assert report["alpha"] == 0.05 and report["unit"] == "user (else session)"
