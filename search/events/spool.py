"""No event lost to an outage: impressions and events reach the store directly, or through a
durable local spool (``search.events.spool_file``) when it is down, drained in order when it is
back.

- A write goes to the store while the spool is empty. When the store cannot be reached (a
  connection error, a timeout, a full disk under SQLite) the write is appended to the spool
  instead, and from then on every write joins the spool behind it, so the store receives them
  in the order they came until the spool is empty again.
- A background drainer writes the spool's oldest page to the store, deletes it, and goes on;
  when the store fails it backs off (doubling, up to ``backoff_max_s``). Draining is idempotent:
  events are unique by ``event_id`` and an impression already stored (same request id and
  time) is left out, so a page written twice (a crash between the store's commit and the
  spool's delete) is stored once.
- An event whose search could not be checked when it arrived (the store down, the impression
  not known here: another server process answered it) is spooled unverified. The drainer
  stores it once its search is stored; if that search has not appeared ``join_wait_s`` after
  the event arrived, the event is kept in the spool file as orphaned (counted in
  ``shelf_spool_dropped_total{reason="no_search"}``, logged), never stored against nothing.
- When neither the spool nor the store can take a write, ``SpoolUnavailable`` (503 with
  ``Retry-After``) is raised, and ``health()`` says why until a write succeeds again.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from search.errors import SpoolUnavailable
from search.events.batch_insert import InsertOutcome
from search.events.impression_ids import unique_impressions
from search.events.log import Event, EventLog, Impression
from search.events.spool_file import SpooledRow, SpoolFile
from search.metrics import (
    EVENTS_STORED,
    IMPRESSIONS_DROPPED,
    IMPRESSIONS_WRITTEN,
    SPOOL_DRAINED,
    SPOOL_DROPPED,
)

log = logging.getLogger(__name__)

# The store could not be reached or could not write (full disk, locked file): wait and retry.
STORE_DOWN = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError, OSError)
# The spool's own file could not write.
_SPOOL_FAILED = (sqlite3.Error, OSError)
_PAGE = 500  # records drained per store write
_HOLD_S = 2.0  # how long an event waits before its search is looked for again


@dataclass(frozen=True)
class SpoolHealth:
    """What ``/readyz`` and ``/metrics`` say about the spool."""

    depth: int
    oldest_age_s: float
    orphaned: int
    unwritable: str | None  # why neither the spool nor the store can take writes, or None


class EventSpool:
    """Writes impressions and events to ``event_log``, through the spool file at ``path`` when
    the store is down; drains the spool in a daemon thread (``start``, ``close``)."""

    def __init__(
        self,
        event_log: EventLog,
        path: Path,
        *,
        join_wait_s: float = 3600.0,
        backoff_max_s: float = 5.0,
        retry_after_s: int = 5,
        pending_elsewhere: Callable[[Iterable[str]], set[str]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.event_log = event_log
        self.file = SpoolFile(path, clock=clock)
        self.join_wait_s = join_wait_s
        self.backoff_max_s = backoff_max_s
        self.retry_after_s = retry_after_s
        # Request ids whose impressions are still in memory (the impression writer's queue).
        self.pending_elsewhere = pending_elsewhere or (lambda ids: set())
        self._unwritable: str | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- writes ------------------------------------------------------------------------------

    def write_impressions(
        self, impressions: Sequence[Impression], *, spool_only: bool = False
    ) -> int:
        """Store ``impressions`` (the spool empty, and not ``spool_only``) or spool them; return
        how many were stored now (0 when spooled). ``SpoolUnavailable`` when neither could."""
        if not impressions:
            return 0
        if spool_only:
            self._spool("impression", impressions, fallback=False)
            return 0
        if self._spool_empty():
            try:
                written = self._store_impressions(impressions)
            except STORE_DOWN as exc:
                return self._spool("impression", impressions, store_error=exc)
            self._unwritable = None
            return written
        return self._spool("impression", impressions)

    def write_events(
        self, events: Sequence[Event], *, verified: bool = True
    ) -> InsertOutcome | None:
        """Store ``events`` (the spool empty and ``verified``: the outcome says which were new
        and which the store refused, by index) or spool them (None).
        ``SpoolUnavailable`` when neither could take them."""
        if not events:
            return InsertOutcome()
        if verified and self._spool_empty():
            try:
                outcome = self.event_log.store_events(events)
            except STORE_DOWN as exc:
                self._spool("event", events, store_error=exc)
                return None
            self._unwritable = None
            EVENTS_STORED.inc(outcome.written)
            return outcome
        self._spool("event", events, verified=verified, fallback=verified)
        return None

    def _spool_empty(self) -> bool:
        """Whether writes may go straight to the store (nothing waits; a spool file that cannot
        be read holds nothing to keep the order of)."""
        try:
            return self.file.is_empty()
        except _SPOOL_FAILED:
            return True

    def _spool(
        self,
        kind: str,
        records: Sequence[Impression] | Sequence[Event],
        *,
        verified: bool = True,
        store_error: BaseException | None = None,
        fallback: bool = True,
    ) -> int:
        """Append to the spool; when it cannot write, try the store (when ``fallback``, and
        unless it just failed)."""
        try:
            self.file.append("impression" if kind == "impression" else "event", records, verified)
        except _SPOOL_FAILED as exc:
            if store_error is None and fallback:
                try:
                    return self._store_direct(kind, records)
                except STORE_DOWN as down:
                    store_error = down
            self._unwritable = (
                f"the spool ({self.file.path}) cannot write ({type(exc).__name__}: {exc}) and "
                f"the event store cannot take writes ({type(store_error).__name__}: "
                f"{store_error}): free disk space or bring the store back"
            )[:600]
            log.error(
                "neither the spool nor the event store can take writes",
                extra={"reason": self._unwritable},
            )
            raise SpoolUnavailable(self._unwritable, retry_after_s=self.retry_after_s) from None
        self._unwritable = None
        if store_error is not None:
            log.warning(
                "event store down: writing to the spool",
                extra={"error": str(store_error)[:300], "kind": kind},
            )
        self._wake.set()
        return 0

    def _store_direct(self, kind: str, records: Sequence[Impression] | Sequence[Event]) -> int:
        if kind == "impression":
            return self._store_impressions(records)  # type: ignore[arg-type]
        outcome = self.event_log.store_events(records)  # type: ignore[arg-type]
        EVENTS_STORED.inc(outcome.written)
        return outcome.written

    def _store_impressions(
        self, impressions: Sequence[Impression], *, drained: bool = False
    ) -> int:
        unique = unique_impressions(self.event_log, impressions)
        written = self.event_log.record_impressions(unique) if unique else 0
        IMPRESSIONS_WRITTEN.inc(written)
        if written < len(unique):  # rows the store could not take, dropped alone
            IMPRESSIONS_DROPPED.labels(reason="rejected").inc(len(unique) - written)
            if drained:
                SPOOL_DROPPED.labels(reason="rejected").inc(len(unique) - written)
        return written

    # -- reads -------------------------------------------------------------------------------

    def pending_request_ids(self, request_ids: Iterable[str]) -> set[str]:
        """Those of ``request_ids`` whose impression waits in the spool."""
        return self.file.impression_request_ids(request_ids)

    @property
    def unwritable(self) -> str | None:
        """Why neither the spool nor the store can take writes now, or None."""
        return self._unwritable

    def health(self) -> SpoolHealth:
        """Depth, oldest age, orphaned events, and why writes fail (None: they do not)."""
        if self._unwritable is not None and self.file.can_write():
            self._unwritable = None  # space again: writes will be spooled at least
        return SpoolHealth(
            depth=self.file.depth(),
            oldest_age_s=self.file.oldest_age_s(),
            orphaned=self.file.orphaned(),
            unwritable=self._unwritable,
        )

    # -- the drainer -------------------------------------------------------------------------

    def start(self) -> None:
        """Drain in a daemon thread until ``close``."""
        self._thread = threading.Thread(target=self._run, name="shelf-spool", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop draining (what is left stays in the file for the next start), close the file."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.file.close()

    def drain_once(self) -> int:
        """Drain one page; return how many records left the spool (stored, or orphaned).
        Raises what the store raises (the drainer backs off on ``STORE_DOWN``)."""
        page = self.file.next_page(_PAGE)
        done = 0
        start = 0
        while start < len(page):  # runs of one kind, in order
            end = start
            while end < len(page) and page[end].kind == page[start].kind:
                end += 1
            run = page[start:end]
            if run[0].kind == "impression":
                done += self._drain_impressions(run)
            else:
                done += self._drain_events(run)
            start = end
        return done

    def _drain_impressions(self, run: list[SpooledRow]) -> int:
        self._store_impressions([row.record for row in run], drained=True)  # type: ignore[misc]
        self.file.remove(row.seq for row in run)
        SPOOL_DRAINED.labels(kind="impression").inc(len(run))
        return len(run)

    def _drain_events(self, run: list[SpooledRow]) -> int:
        unchecked = {row.record.request_id for row in run if not row.verified}
        joined: set[str] = set()
        if unchecked:
            joined = self.event_log.known_request_ids(unchecked)
            joined |= self.pending_request_ids(unchecked - joined)
            joined |= self.pending_elsewhere(unchecked - joined)
        ready = [row for row in run if row.verified or row.record.request_id in joined]
        waiting = [row for row in run if not (row.verified or row.record.request_id in joined)]
        now = self.file.clock()
        expired = [row for row in waiting if now - row.spooled_at >= self.join_wait_s]
        held = [row for row in waiting if now - row.spooled_at < self.join_wait_s]
        outcome = self.event_log.store_events([row.record for row in ready])  # type: ignore[misc]
        EVENTS_STORED.inc(outcome.written)
        if outcome.rejected:
            SPOOL_DROPPED.labels(reason="rejected").inc(len(outcome.rejected))
        self.file.remove(row.seq for row in ready)
        SPOOL_DRAINED.labels(kind="event").inc(len(ready))
        if expired:
            self.file.orphan(row.seq for row in expired)
            SPOOL_DROPPED.labels(reason="no_search").inc(len(expired))
            log.warning(
                "events whose search never appeared: kept in the spool file as orphaned",
                extra={"count": len(expired), "spool": str(self.file.path)},
            )
        self.file.hold((row.seq for row in held), now + _HOLD_S)
        return len(ready) + len(expired)

    def _run(self) -> None:
        backoff = 0.05
        while not self._stop.is_set():
            try:
                drained = 0 if self.file.is_empty() else self.drain_once()
            except (*STORE_DOWN, sqlite3.Error) as exc:
                log.info("spool not drained yet: %s", str(exc)[:300], extra={"retry_s": backoff})
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.backoff_max_s)
                continue
            except Exception:  # a bug must not stop the drainer for good
                log.exception("spool drain failed")
                self._stop.wait(self.backoff_max_s)
                continue
            backoff = 0.05
            if drained == 0:
                self._wake.wait(1.0 if self.file.is_empty() else _HOLD_S)
                self._wake.clear()
