"""Impressions are written off the request path: a bounded queue and one writer thread.

A search only offers its impression to the queue (``put_nowait``); the writer wakes on the first
one, lingers a few milliseconds so that those arriving meanwhile join it, writes them all in one
batch and goes back to waiting. Without the linger the writer woke for every search and wrote
one row at a time, and each wake-up cost the search thread a GIL hand-off: in-process search
throughput rose by about half with it. A search never waits for the event store: when the
store is down, the writer appends the batch to the durable spool (``search.events.spool``),
which drains it once the store is back; when neither can take it (a full disk) the writer keeps
the batch and retries, and new impressions wait in the queue. When the queue is full (a slow
store) an impression is appended to the spool by the search itself; only when that fails too is
it dropped and counted (``shelf_impressions_dropped_total``). Events (``POST /events``)
are acknowledged only once stored or spooled.

One shopper's impression never costs another's: the event log drops a row it cannot store alone
(``search.events.batch_insert``). Nor does a request id used twice lose a search: the API
gives a reused caller id a fresh one, and what it cannot see (the same id from another server
process, or long ago) is caught when the batch is stored (``search.events.impression_ids``):
an impression whose request id is already stored, or twice in one batch, is stored under a
derived id (the id, a dot and 8 hex digits), counted in
``shelf_impression_request_id_conflicts_total``. Its events, which can only name the id the
caller was given, attach to the first search with that id.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING

from search.errors import SpoolUnavailable
from search.events.impression_ids import unique_impressions
from search.events.log import EventLog, Impression
from search.metrics import IMPRESSIONS_DROPPED, IMPRESSIONS_OVERFLOWED, IMPRESSIONS_WRITTEN

if TYPE_CHECKING:
    from search.events.spool import EventSpool

log = logging.getLogger(__name__)

_BATCH = 500  # most impressions per write
LINGER_S = 0.02  # how long the writer waits for more after the first impression of a batch
# A flush gives up after this: with a full disk the writer holds a batch until space returns.
FLUSH_TIMEOUT_S = 30.0


class ImpressionWriter:
    """Queues impressions and writes them in batches from one background thread: to the store,
    or through ``spool`` (``search.events.spool``) when the store is down. Without a spool a
    batch the store cannot take is dropped (counted)."""

    def __init__(
        self,
        event_log: EventLog,
        *,
        max_queued: int = 10_000,
        linger_s: float = LINGER_S,
        spool: EventSpool | None = None,
        retry_max_s: float = 5.0,
    ) -> None:
        self.event_log = event_log
        self.linger_s = linger_s
        self.spool = spool
        self.retry_max_s = retry_max_s
        self._queue: queue.Queue[Impression | None] = queue.Queue(maxsize=max_queued)
        # Impressions queued and impressions done (written or dropped), in queue order: a flush
        # waits for those queued before it, not for the queue to empty (it may never, under load).
        self._offered = 0
        self._done = 0
        # Request ids queued or in hand, not yet stored or spooled: their events are pending.
        self._pending: dict[str, int] = {}
        self._offer_lock = threading.Lock()
        self._progress = threading.Condition()
        self._wake = threading.Event()  # a flush cuts the linger short
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="shelf-impressions", daemon=True)
        self._thread.start()

    def offer(self, impression: Impression) -> bool:
        """Queue one impression; when the queue is full (a slow store), append it to the spool
        instead; ``False`` (and counted) when neither could take it."""
        with self._offer_lock:
            try:
                self._queue.put_nowait(impression)
            except queue.Full:
                pass
            else:
                self._offered += 1
                pending = self._pending.get(impression.request_id, 0)
                self._pending[impression.request_id] = pending + 1
                return True
        return self._overflow(impression)  # outside the lock: other searches need not wait

    def _overflow(self, impression: Impression) -> bool:
        # Only when the writer is behind: the search pays one fsync rather than lose its
        # impression (the writer's later batches then queue behind it in the spool).
        if self.spool is not None:
            try:
                self.spool.write_impressions([impression], spool_only=True)
                IMPRESSIONS_OVERFLOWED.inc()
                return True
            except SpoolUnavailable:
                pass
        IMPRESSIONS_DROPPED.labels(reason="queue_full").inc()
        return False

    def queued(self) -> int:
        """Impressions waiting to be written (``/metrics`` reads it when scraped)."""
        return self._queue.qsize()

    def pending_request_ids(self, request_ids: Iterable[str]) -> set[str]:
        """Those of ``request_ids`` whose impression is queued here, not yet stored or spooled."""
        with self._offer_lock:
            return {rid for rid in request_ids if rid in self._pending}

    def flush(self, timeout_s: float | None = FLUSH_TIMEOUT_S) -> bool:
        """Block until every impression queued so far has been written, spooled or dropped (at
        most ``timeout_s``); False when the time ran out first."""
        target = self._offered
        self._wake.set()
        with self._progress:
            return self._progress.wait_for(
                lambda: self._done >= target or not self._thread.is_alive(), timeout=timeout_s
            )

    def close(self) -> None:
        """Write what is queued, then stop the thread."""
        self._closing.set()
        self._queue.put(None)
        self._wake.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is not None and self.linger_s > 0:
                # Nothing waits on the queue meanwhile, so a search's put is cheap.
                self._wake.wait(self.linger_s)
            self._wake.clear()
            batch = [first]
            while len(batch) < _BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            impressions = [item for item in batch if item is not None]
            try:
                if impressions:
                    self._place(impressions)
            finally:
                with self._offer_lock:
                    for imp in impressions:
                        left = self._pending.pop(imp.request_id, 1) - 1
                        if left > 0:
                            self._pending[imp.request_id] = left
                with self._progress:
                    self._done += len(impressions)
                    self._progress.notify_all()
            if len(impressions) < len(batch):  # the None that close() queued
                return

    def _place(self, impressions: list[Impression]) -> None:
        """Store or spool ``impressions``; while neither can take them (a full disk), keep
        them and retry with backoff (new ones wait in the bounded queue) until ``close``."""
        if self.spool is None:
            try:
                unique = unique_impressions(self.event_log, impressions)
                written = self.event_log.record_impressions(unique)
                IMPRESSIONS_WRITTEN.inc(written)
                if written < len(unique):  # rows the store could not take, dropped alone
                    IMPRESSIONS_DROPPED.labels(reason="rejected").inc(len(unique) - written)
            except Exception as exc:  # the store is down: drop, count, keep serving
                IMPRESSIONS_DROPPED.labels(reason="store_error").inc(len(impressions))
                log.warning("impressions dropped: %s", exc, extra={"count": len(impressions)})
            return
        backoff = 0.05
        while True:
            try:
                self.spool.write_impressions(impressions)
                return
            except SpoolUnavailable as exc:
                if self._closing.is_set():
                    IMPRESSIONS_DROPPED.labels(reason="unwritable").inc(len(impressions))
                    log.error(
                        "impressions lost at shutdown: %s", exc, extra={"count": len(impressions)}
                    )
                    return
            except Exception as exc:  # the store refused the batch (not an outage): drop, count
                IMPRESSIONS_DROPPED.labels(reason="store_error").inc(len(impressions))
                log.warning("impressions dropped: %s", exc, extra={"count": len(impressions)})
                return
            self._closing.wait(backoff)
            backoff = min(backoff * 2, self.retry_max_s)
