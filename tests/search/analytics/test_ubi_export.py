"""``shelf analytics export --format ubi``: the log as UBI 1.3.0 JSON Lines, on both engines.

The spec's field names and requirements are pinned here as a JSON Schema of our own, written from
o19s/ubi ``schema/1.3.0/query.request.schema.json`` and ``event.schema.json`` (required fields,
types, the 100-character id limit, ``event_attributes.object.object_id`` and
``event_attributes.position.ordinal.index``). The spec's own files are not used as they are:
their ``oneOf`` branches overlap (every standard ``action_name`` matches both the enum and the
free string), so a strict validator rejects every valid event.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import jsonschema
import pytest

from search.analytics.ubi import EVENTS_FILE, QUERIES_FILE, export_ubi
from search.cli.main import main
from search.events.log import Event, Impression, SqliteEventLog

ID = {"type": "string", "maxLength": 100}
TIMESTAMP = {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$"}
UBI_QUERY = {
    "type": "object",
    "required": [
        "query_id",
        "user_query",
        "timestamp",
        "query_response_id",
        "query_response_hit_ids",
    ],  # fmt: skip
    "additionalProperties": False,  # only the spec's names
    "properties": {
        "application": {"type": "string", "maxLength": 100},
        "query_id": ID,
        "client_id": ID,
        "user_query": {"type": "string"},
        "query_attributes": {"type": "object"},
        "object_id_field": {"type": "string", "maxLength": 100},
        "timestamp": TIMESTAMP,
        "query_response_id": {"type": "string"},
        "query_response_hit_ids": {"type": "array", "items": {"type": "string"}},
    },
}
UBI_EVENT = {
    "type": "object",
    "required": ["action_name", "timestamp", "query_id", "event_attributes"],
    "additionalProperties": False,
    "properties": {
        "application": {"type": "string", "maxLength": 100},
        "action_name": {"enum": ["add_to_cart", "click", "purchase"]},
        "query_id": ID,
        "session_id": ID,
        "client_id": ID,
        "user_id": ID,
        "timestamp": TIMESTAMP,
        "message_type": {"type": "string"},
        "message": {"type": "string", "maxLength": 1024},
        "event_attributes": {
            "type": "object",
            "required": ["position", "object"],
            "properties": {
                "object": {
                    "type": "object",
                    "required": ["object_id"],
                    "properties": {"object_id": {"type": "string", "maxLength": 256}},
                },
                "position": {
                    "type": "object",
                    "required": ["ordinal"],
                    "properties": {
                        "ordinal": {
                            "type": "object",
                            "required": ["index"],
                            "properties": {"index": {"type": "integer"}},
                        }
                    },
                },
            },
        },
    },
}
TS = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC)


def _seed(log: SqliteEventLog) -> None:
    long_session = "s" * 128  # Shelf takes 128 characters, UBI 100
    log.record_impressions([
        Impression("q1", "red shoes", "en", "control", ("p1", "p2"), user_id="u1", ts=TS,
                   experiment_id="exp", result_count=40),
        Impression("q2", "zzz", "en", "none", (), session_id=long_session,
                   ts=TS + dt.timedelta(days=2), result_count=0),
    ])  # fmt: skip
    log.record_events([
        Event("e1", "click", "q1", "p2", 2, ts=TS + dt.timedelta(seconds=5)),
        Event("e2", "purchase", "q1", "p2", 2, value=19.5, currency="EUR",
              ts=TS + dt.timedelta(seconds=9)),
    ])  # fmt: skip


def _lines(path: Path) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_the_export_is_valid_ubi_and_ties_events_to_their_query(
    event_log: SqliteEventLog, tmp_path: Path
) -> None:
    _seed(event_log)
    summary = export_ubi(event_log.engine, event_log.tables, tmp_path)
    assert (summary["ubi_version"], summary["queries"], summary["events"]) == ("1.3.0", 2, 2)
    queries, events = _lines(tmp_path / QUERIES_FILE), _lines(tmp_path / EVENTS_FILE)
    for doc in queries:
        jsonschema.validate(doc, UBI_QUERY)
    for doc in events:
        jsonschema.validate(doc, UBI_EVENT)
    first, zero = queries
    assert first["query_response_hit_ids"] == ["p1", "p2"]
    assert first["timestamp"] == "2026-11-02T12:00:00Z"
    assert first["query_attributes"]["result_count"] == 40
    assert zero["query_response_hit_ids"] == [] and zero["query_attributes"]["result_count"] == 0
    assert zero["client_id"].startswith("sha256:")
    click, purchase = events
    assert click["query_id"] == first["query_id"] == "q1"
    assert click["client_id"] == click["user_id"] == "u1"  # the search's user
    assert click["event_attributes"]["object"]["object_id"] == "p2"
    assert click["event_attributes"]["position"]["ordinal"]["index"] == 2
    assert (purchase["action_name"], purchase["event_attributes"]["value"]) == ("purchase", 19.5)


def test_since_keeps_what_happened_from_then(event_log: SqliteEventLog, tmp_path: Path) -> None:
    _seed(event_log)
    since = TS + dt.timedelta(days=1)
    summary = export_ubi(event_log.engine, event_log.tables, tmp_path, since)
    assert (summary["queries"], summary["events"]) == (1, 0)
    assert [q["query_id"] for q in _lines(tmp_path / QUERIES_FILE)] == ["q2"]


def test_the_cli_exports_to_a_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SHELF_DATA_DIR", str(tmp_path))
    from search.settings import get_settings

    get_settings.cache_clear()
    try:
        log = SqliteEventLog(f"sqlite:///{tmp_path / 'events.db'}")
        _seed(log)
        log.close()
        out = tmp_path / "ubi"
        assert main(["analytics", "export", "--format", "ubi", "--out", str(out), "--json"]) == 0
        summary = json.loads(capsys.readouterr().out)
        assert (summary["queries"], summary["events"]) == (2, 2)
        assert len(_lines(out / QUERIES_FILE)) == 2
        assert main(["analytics", "top", "--from", "2026-12-01", "--to", "2026-11-01"]) == 2
        assert "from (2026-12-01" in capsys.readouterr().err
    finally:
        get_settings.cache_clear()
