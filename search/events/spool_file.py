"""The spool's file: impressions and events waiting for the event store, on local disk.

An SQLite file of its own (the stdlib's ``sqlite3``; WAL, ``synchronous=FULL``), not a JSONL
journal or ``persist-queue``: one transaction appends a whole batch with one fsync, rows keep
their order (``seq``), a drained page is deleted in one statement, and the request ids of the
impressions still waiting are an indexed lookup, which ``POST /events`` needs to accept a click
on a search whose impression is not stored yet. A JSONL journal would need compaction and a
second index for that; ``persist-queue`` keeps a queue but cannot answer "is this id waiting?".

Records are whole dataclasses (``Impression``, ``Event``) as JSON: every field, so one added
later (a new column) passes through without a change here. A field this version does not know
(a newer server's spool) is kept out with a warning rather than failing the drain.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import sqlite3
import threading
import time
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from search.events.log import Event, Impression

log = logging.getLogger(__name__)

Kind = Literal["impression", "event"]
Record = TypeVar("Record")
_RECORD_TYPES: dict[str, type[Impression] | type[Event]] = {
    "impression": Impression,
    "event": Event,
}
_LOOKUP_CHUNK = 500  # bound parameters per IN (...)
_LOCK_WAIT_S = 10.0  # how long a write waits for another process's lock on the file

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    request_id TEXT NOT NULL,
    verified INTEGER NOT NULL,
    record TEXT NOT NULL,
    spooled_at REAL NOT NULL,
    not_before REAL NOT NULL DEFAULT 0,
    orphaned INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS spool_request_id ON spool (request_id, kind);
CREATE INDEX IF NOT EXISTS spool_waiting ON spool (orphaned, seq);
CREATE TABLE IF NOT EXISTS probe (id INTEGER PRIMARY KEY, at REAL NOT NULL);
"""


@dataclass(frozen=True)
class SpooledRow:
    """One record waiting: its place in the spool, what it is, and since when (epoch s)."""

    seq: int
    kind: Kind
    record: Impression | Event
    verified: bool  # False: an event whose search could not be checked when it arrived
    spooled_at: float


def encode_record(record: Impression | Event | Any) -> str:
    """Every field of ``record`` as one JSON object (datetimes as ISO 8601 strings)."""
    fields = dataclasses.asdict(record)
    return json.dumps(
        {k: v.isoformat() if isinstance(v, dt.datetime) else v for k, v in fields.items()},
        ensure_ascii=False,
    )


def decode_record(cls: type[Record], text: str) -> Record:
    """The ``cls`` record ``encode_record`` wrote, typed again (datetimes, tuples) from the
    dataclass's own hints; keys the dataclass lacks are dropped with a warning."""
    hints: dict[str, Any] = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for key, value in json.loads(text).items():
        hint = hints.get(key)
        if hint is None:
            log.warning("spooled field unknown to this version: dropped", extra={"field": key})
            continue
        if value is not None and dt.datetime in (hint, *typing.get_args(hint)):
            value = dt.datetime.fromisoformat(value)
        elif isinstance(value, list) and typing.get_origin(hint) is tuple:
            value = tuple(value)
        values[key] = value
    return cls(**values)


class SpoolFile:
    """The waiting records, in order, in one SQLite file (thread-safe: one connection, a lock).
    Every write raises ``sqlite3.Error`` or ``OSError`` when the disk cannot take it."""

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.clock = clock  # epoch seconds (tests pass their own)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # Several server processes (``shelf serve --workers``) may share the file: wait for a
        # lock rather than fail, and ask the file (not a count kept here) what it holds.
        self._conn = sqlite3.connect(
            path, check_same_thread=False, isolation_level=None, timeout=_LOCK_WAIT_S
        )
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")  # a commit is fsynced: acknowledged
        self._conn.executescript(_SCHEMA)

    def append(
        self, kind: Kind, records: Sequence[Impression | Event], verified: bool = True
    ) -> None:
        """Append ``records`` in one fsynced transaction: all of them, or none (raised)."""
        now = self.clock()
        rows = [(kind, r.request_id, int(verified), encode_record(r), now) for r in records]
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                self._conn.executemany(
                    "INSERT INTO spool (kind, request_id, verified, record, spooled_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    rows,
                )
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    def is_empty(self) -> bool:
        """True when no record waits to be drained (one indexed lookup)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT 1 FROM spool WHERE orphaned = 0 ORDER BY seq LIMIT 1"
            ).fetchone()
        return row is None

    def depth(self) -> int:
        """Records waiting to be drained (orphaned events not counted)."""
        with self._lock:
            row = self._conn.execute("SELECT count(*) FROM spool WHERE orphaned = 0").fetchone()
        return int(row[0])

    def oldest_age_s(self) -> float:
        """Seconds since the oldest waiting record was spooled; 0 when none waits."""
        with self._lock:
            row = self._conn.execute(
                "SELECT min(spooled_at) FROM spool WHERE orphaned = 0"
            ).fetchone()
        return 0.0 if row[0] is None else max(0.0, self.clock() - float(row[0]))

    def next_page(self, limit: int) -> list[SpooledRow]:
        """The oldest ``limit`` waiting records that are due (not held back), in order."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, kind, verified, record, spooled_at FROM spool "
                "WHERE orphaned = 0 AND not_before <= ? ORDER BY seq LIMIT ?",
                (self.clock(), limit),
            ).fetchall()
        return [
            SpooledRow(
                seq, kind, decode_record(_RECORD_TYPES[kind], record), bool(verified), spooled_at
            )
            for seq, kind, verified, record, spooled_at in rows
        ]

    def remove(self, seqs: Iterable[int]) -> None:
        """Delete drained records."""
        self._update("DELETE FROM spool WHERE seq = ?", [(s,) for s in seqs])

    def hold(self, seqs: Iterable[int], until: float) -> None:
        """Skip these records in ``next_page`` until ``until`` (epoch s)."""
        self._update("UPDATE spool SET not_before = ? WHERE seq = ?", [(until, s) for s in seqs])

    def orphan(self, seqs: Iterable[int]) -> None:
        """Keep these records in the file but drain them no more (their search never came)."""
        self._update("UPDATE spool SET orphaned = 1 WHERE seq = ?", [(s,) for s in seqs])

    def _update(self, sql: str, params: list[tuple[Any, ...]]) -> None:
        if not params:
            return
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(sql, params)
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    def can_write(self) -> bool:
        """Whether a write commits now (one row rewritten in a table of its own): how a full
        disk is seen to have space again without waiting for traffic."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                self._conn.execute("INSERT OR REPLACE INTO probe VALUES (1, ?)", (self.clock(),))
                self._conn.execute("COMMIT")
            except (sqlite3.Error, OSError):
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                return False
        return True

    def orphaned(self) -> int:
        """Events kept because their search never appeared within the join wait."""
        with self._lock:
            row = self._conn.execute("SELECT count(*) FROM spool WHERE orphaned = 1").fetchone()
        return int(row[0])

    def impression_request_ids(self, request_ids: Iterable[str]) -> set[str]:
        """Those of ``request_ids`` with an impression waiting here."""
        wanted = sorted(set(request_ids))
        found: set[str] = set()
        with self._lock:
            for start in range(0, len(wanted), _LOOKUP_CHUNK):
                chunk = wanted[start : start + _LOOKUP_CHUNK]
                marks = ",".join("?" * len(chunk))
                found.update(
                    row[0]
                    for row in self._conn.execute(
                        f"SELECT request_id FROM spool WHERE kind = 'impression' "
                        f"AND request_id IN ({marks})",
                        chunk,
                    )
                )
        return found

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._conn.close()
