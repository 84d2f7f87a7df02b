"""The durable spool: what the event store cannot take now is kept on disk, in order, and
stored once when it is back. Real SQLite files throughout; an outage is the real event log
wrapped so that it raises what a stopped server raises."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from search.errors import SpoolUnavailable
from search.events.batch_insert import InsertOutcome
from search.events.impressions import ImpressionWriter
from search.events.log import Event, Impression, SqliteEventLog
from search.events.spool import EventSpool
from search.events.spool_file import SpoolFile, decode_record, encode_record

T0 = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


class Outage(SqliteEventLog):
    """The real SQLite event log; while ``down``, every write and lookup raises what a store
    that cannot be reached raises (``OperationalError``)."""

    down = False

    def _check(self) -> None:
        if self.down:
            raise sa.exc.OperationalError("INSERT ...", {}, ConnectionRefusedError("down"))

    def record_impressions(self, batch: Sequence[Impression]) -> int:
        self._check()
        return super().record_impressions(batch)

    def store_events(self, batch: Sequence[Event]) -> InsertOutcome:
        self._check()
        return super().store_events(batch)

    def known_request_ids(self, request_ids: Any) -> set[str]:
        self._check()
        return super().known_request_ids(request_ids)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Outage]:
    log = Outage(f"sqlite:///{tmp_path / 'events.db'}")
    yield log
    log.close()


class Clock:
    """Epoch seconds that a test moves on."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def spool(store: Outage, tmp_path: Path, clock: Clock) -> Iterator[EventSpool]:
    spool = EventSpool(store, tmp_path / "spool.db", join_wait_s=60, clock=clock)
    yield spool
    spool.close()


def _impression(request_id: str, n: int = 0) -> Impression:
    return Impression(
        request_id, "coffee", "en", "default", ("p1", "p2"), ts=T0 + dt.timedelta(seconds=n)
    )


def _click(event_id: str, request_id: str) -> Event:
    return Event(event_id, "click", request_id, "p1", 1, ts=T0)


def _drain(spool: EventSpool) -> None:
    while spool.file.depth() and spool.drain_once():
        pass


_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
_times = st.datetimes(
    min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1), timezones=st.just(dt.UTC)
)


@settings(max_examples=50, deadline=None)
@given(
    st.builds(
        Impression,
        request_id=_text,
        query=_text,
        locale=st.none() | _text,
        variant=_text,
        product_ids=st.tuples(_text, _text),
        first_position=st.integers(1, 10_000),
        user_id=st.none() | _text,
        ts=st.none() | _times,
        page=st.integers(1, 100),
        result_count=st.none() | st.integers(0, 10**6),
    )
    | st.builds(
        Event,
        event_id=_text,
        type=st.sampled_from(["click", "add_to_cart", "purchase"]),
        request_id=_text,
        product_id=_text,
        position=st.integers(1, 1000),
        value=st.none() | st.floats(0, 1e6),
        ts=st.none() | _times,
    )
)
def test_every_field_of_a_record_survives_the_spool(record: Impression | Event) -> None:
    assert decode_record(type(record), encode_record(record)) == record


@dataclasses.dataclass(frozen=True)
class _NewerImpression(Impression):
    client_network: str | None = None  # a column added after the spool was written


def test_a_field_added_to_the_record_passes_through_the_spool() -> None:
    record = _NewerImpression("r1", "coffee", "en", "default", ("p1",), client_network="net-7")
    assert decode_record(_NewerImpression, encode_record(record)) == record


def test_while_the_store_is_down_writes_are_spooled_and_stored_once_it_is_back(
    store: Outage, spool: EventSpool
) -> None:
    store.down = True
    spool.write_impressions([_impression("r1"), _impression("r2", 1)])
    assert spool.write_events([_click("e1", "r1"), _click("e2", "r2")]) is None  # spooled
    assert spool.health().depth == 4 and store.count("searches") == 0
    with pytest.raises(sa.exc.OperationalError):  # the drainer backs off and retries
        spool.drain_once()
    store.down = False
    _drain(spool)
    assert (store.count("searches"), store.count("events"), spool.health().depth) == (2, 2, 0)


def test_spooled_records_outlive_a_restart(store: Outage, tmp_path: Path) -> None:
    store.down = True
    first = EventSpool(store, tmp_path / "spool.db")
    first.write_events([_click(f"e{n}", "r1") for n in range(5)])
    first.close()
    again = EventSpool(store, tmp_path / "spool.db")
    assert again.health().depth == 5
    assert [row.record.event_id for row in again.file.next_page(10)] == [  # type: ignore[union-attr]
        f"e{n}" for n in range(5)
    ]
    again.close()


def test_once_the_spool_holds_records_new_writes_queue_behind_them(
    store: Outage, spool: EventSpool
) -> None:
    store.down = True
    spool.write_events([_click("e1", "r1")])
    store.down = False  # back, but the spool is not drained yet: keep the order
    assert spool.write_events([_click("e2", "r1")]) is None
    assert [row.record.event_id for row in spool.file.next_page(10)] == ["e1", "e2"]  # type: ignore[union-attr]


def test_a_page_drained_twice_is_stored_once(
    store: Outage, spool: EventSpool, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.down = True
    spool.write_impressions([_impression("r1"), _impression("r2", 1)])
    spool.write_events([_click("e1", "r1")])
    store.down = False
    real_remove = spool.file.remove
    failures = iter([True])

    def remove_fails_once(seqs: Any) -> None:  # the store committed; the spool's delete did not
        if next(failures, False):
            raise sqlite3.OperationalError("disk I/O error")
        real_remove(seqs)

    monkeypatch.setattr(spool.file, "remove", remove_fails_once)
    with pytest.raises(sqlite3.OperationalError):
        spool.drain_once()
    _drain(spool)
    assert (store.count("searches"), store.count("events"), spool.health().depth) == (2, 1, 0)


def test_an_unverified_event_is_stored_once_its_search_is(
    store: Outage, spool: EventSpool, clock: Clock
) -> None:
    spool.write_events([_click("e1", "late")], verified=False)
    spool.drain_once()  # its search is not stored yet: held, neither stored nor dropped
    assert store.count("events") == 0 and spool.health().depth == 1
    store.record_impressions([_impression("late")])
    clock.now += 10  # past the hold, within the join wait
    _drain(spool)
    assert store.count("events") == 1 and spool.health().depth == 0


def test_an_event_whose_search_never_appears_is_kept_aside_not_stored(
    store: Outage, spool: EventSpool, clock: Clock
) -> None:
    spool.write_events([_click("e1", "never-issued")], verified=False)
    clock.now += 61  # past SHELF_SPOOL_JOIN_WAIT_S (60 here)
    spool.drain_once()
    health = spool.health()
    assert (store.count("events"), health.depth, health.orphaned) == (0, 0, 1)


def test_the_impression_writer_spools_instead_of_dropping_when_the_store_is_down(
    store: Outage, spool: EventSpool
) -> None:
    store.down = True
    writer = ImpressionWriter(store, spool=spool, linger_s=0)
    for n in range(20):
        assert writer.offer(_impression(f"r{n}", n))
    assert writer.flush(timeout_s=30)
    assert spool.health().depth == 20
    assert spool.pending_request_ids(["r0", "r19", "r404"]) == {"r0", "r19"}
    store.down = False
    _drain(spool)
    assert store.count("searches") == 20
    writer.close()


def test_neither_spool_nor_store_writable_is_refused_with_a_reason(
    store: Outage, spool: EventSpool, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.down = True

    def disk_full(*args: object, **kwargs: object) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(SpoolFile, "append", disk_full)
    monkeypatch.setattr(SpoolFile, "can_write", lambda self: False)
    with pytest.raises(SpoolUnavailable) as refused:
        spool.write_events([_click("e1", "r1")])
    assert refused.value.headers["Retry-After"] == "5"
    assert "disk is full" in (spool.health().unwritable or "")
    monkeypatch.undo()  # space again: seen without waiting for a write (a not-ready server
    assert spool.health().unwritable is None  # gets none from its load balancer)


def test_a_full_impression_queue_spools_instead_of_dropping(
    store: Outage, spool: EventSpool
) -> None:
    class SlowStore(Outage):
        def record_impressions(self, batch: Sequence[Impression]) -> int:
            time.sleep(0.2)
            return super().record_impressions(batch)

    slow = SlowStore(str(store.engine.url))
    writer = ImpressionWriter(slow, spool=spool, max_queued=2, linger_s=0)
    assert all(writer.offer(_impression(f"r{n}", n)) for n in range(10))
    writer.flush(timeout_s=30)
    _drain(spool)
    assert store.count("searches") == 10
    writer.close()
    slow.close()
