"""One bad row never costs the rest of its batch, and a request id used twice loses no search;
on a SQLite file and the real PostgreSQL (the ``event_log`` fixture)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from typing import Any

import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY

from search.events import batch_insert
from search.events.impressions import ImpressionWriter
from search.events.log import Event, Impression, SqliteEventLog
from search.events.tables import make_tables

SHOPPERS = 30
BAD_AT = 15


def _impression(n: int, **fields: Any) -> Impression:
    values: dict[str, Any] = {
        "request_id": f"r{n}",
        "query": "coffee",
        "locale": "en",
        "variant": "default",
        "product_ids": ("p1", "p2"),
        "user_id": f"u{n}",
        "session_id": f"s{n}",
    }
    values.update(fields)
    return Impression(**values)


def _event(n: int, **fields: Any) -> Event:
    values: dict[str, Any] = {
        "event_id": f"e{n}",
        "type": "click",
        "request_id": "r1",
        "product_id": "p1",
        "position": 1,
    }
    values.update(fields)
    return Event(**values)


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


# Every way a row can be one no store keeps: NUL (PostgreSQL refuses it in text), a lone
# surrogate (no driver encodes it), text longer than its column, in each kind of column.
BAD_IMPRESSIONS = {
    "nul in user_id": {"user_id": "evil\x00x"},
    "nul in session_id": {"session_id": "\x00"},
    "nul in query": {"query": "cof\x00fee"},
    "nul in a product id": {"product_ids": ("p1", "p\x002")},
    "nul in the experiment id": {"experiment_id": "exp\x00"},
    "nul in the variant": {"variant": "a\x00"},
    "surrogate in user_id": {"user_id": "u\ud800"},
    "surrogate in query": {"query": "\udfff"},
    "surrogate in the locale": {"locale": "e\ud800"},
    "user_id too long": {"user_id": "u" * 129},
    "locale too long": {"locale": "x" * 17},
    "request id too long": {"request_id": "r" * 65},
}


@pytest.mark.parametrize("bad", BAD_IMPRESSIONS.values(), ids=BAD_IMPRESSIONS.keys())
def test_one_bad_impression_costs_no_other_shoppers_impression(
    event_log: SqliteEventLog, bad: dict[str, Any]
) -> None:
    dropped = _metric("shelf_event_store_rows_rejected_total", table="searches")
    writer = ImpressionWriter(event_log, linger_s=0.05)
    for n in range(SHOPPERS):
        assert writer.offer(_impression(n, **(bad if n == BAD_AT else {})))
    writer.flush()
    writer.close()
    expected = {f"r{n}" for n in range(SHOPPERS) if n != BAD_AT}
    assert event_log.known_request_ids(f"r{n}" for n in range(SHOPPERS)) == expected
    assert event_log.count("searches") == SHOPPERS - 1
    assert _metric("shelf_event_store_rows_rejected_total", table="searches") == dropped + 1


def _unchecked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skip the check before the batch, so the store itself refuses the bad rows."""
    monkeypatch.setattr(batch_insert, "row_problem", lambda table, row: None)


def _refused_by(event_log: SqliteEventLog) -> list[str]:
    # SQLite keeps NUL in text; PostgreSQL refuses it. Neither can encode a lone surrogate.
    return ["\ud800"] if event_log.engine.dialect.name == "sqlite" else ["\ud800", "\x00"]


def test_a_batch_the_store_refuses_is_split_until_only_the_bad_rows_are_left(
    event_log: SqliteEventLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    _unchecked(monkeypatch)
    for round_, char in enumerate(_refused_by(event_log)):
        bad = (3, 20, 21)
        batch = [
            _event(100 * round_ + n, user_id=f"u{char}" if n in bad else f"u{n}") for n in range(50)
        ]
        before = event_log.count("events")
        outcome = event_log.store_events(batch)
        assert [index for index, _ in outcome.rejected] == list(bad), repr(char)
        assert all("the store refused it" in reason for _, reason in outcome.rejected)
        assert outcome.written == 47 and event_log.count("events") == before + 47
        monkeypatch.setattr(batch_insert, "ROWS_PER_INSERT", 7)  # the next round across pages


def test_rejected_events_are_named_by_their_index_in_the_batch_with_duplicates_in_it(
    event_log: SqliteEventLog,
) -> None:
    batch = [_event(1), _event(1), _event(2, session_id="s\x00"), _event(3)]
    outcome = event_log.store_events(batch)
    assert outcome.written == 2
    assert outcome.rejected == [(2, "session_id holds a NUL character")]


def test_a_store_that_is_down_raises_at_once_instead_of_splitting_the_batch() -> None:
    engine = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:1/test?connect_timeout=2")
    tables = make_tables("down_")
    statement = sa.insert(tables.events).returning(tables.events.c.event_id)
    now = dt.datetime.now(dt.UTC)
    rows = [dataclasses.asdict(_event(n)) | {"ts": now, "received_at": now} for n in range(64)]
    started = time.monotonic()
    with pytest.raises(sa.exc.OperationalError):
        batch_insert.insert_rows(engine, statement, rows, table_label="events")
    assert time.monotonic() - started < 3  # one attempt, not one per half
    engine.dispose()


def test_a_request_id_reused_across_processes_keeps_both_impressions(
    event_log: SqliteEventLog,
) -> None:
    conflicts = _metric("shelf_impression_request_id_conflicts_total")
    # Two writers are two server processes: neither can see the other's recent request ids.
    first, second = ImpressionWriter(event_log), ImpressionWriter(event_log)
    first.offer(_impression(1, request_id="same", user_id="alice"))
    first.flush()
    second.offer(_impression(2, request_id="same", user_id="bob"))
    second.offer(_impression(3, request_id="same", user_id="carol"))  # twice in one batch too
    second.flush()
    first.close()
    second.close()
    assert event_log.count("searches") == 3
    table = event_log.tables.searches
    with event_log.engine.connect() as conn:
        rows = dict(conn.execute(sa.select(table.c.user_id, table.c.request_id)).all())
    assert rows["alice"] == "same"  # the first keeps the id its events name
    assert rows["bob"].startswith("same.") and rows["carol"].startswith("same.")
    assert len({rows["bob"], rows["carol"]}) == 2
    assert _metric("shelf_impression_request_id_conflicts_total") == conflicts + 2
