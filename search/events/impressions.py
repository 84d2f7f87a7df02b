"""Impressions are written off the request path: a bounded queue and one writer thread.

A search only offers its impression to the queue (``put_nowait``); the writer wakes on the first
one, lingers a few milliseconds so that those arriving meanwhile join it, writes them all in one
batch and goes back to waiting. Without the linger the writer woke for every search and wrote
one row at a time, and each wake-up cost the search thread a GIL hand-off: in-process search
throughput rose by about half with it. When the queue is full the impression
is dropped and counted (``shelf_impressions_dropped_total``): impressions are best-effort, a
search never waits for the event store. Events (``POST /events``) are the opposite: they are
acknowledged only once stored.

One shopper's impression never costs another's: the event log drops a row it cannot store alone
(``search.events.batch_insert``). Nor does a request id used twice lose a search: the API
gives a reused caller id a fresh one, and what it cannot see (the same id from another server
process, or long ago) is caught here: an impression whose request id is already stored, or twice
in one batch, is stored under a derived id (the id, a dot and 8 hex digits), counted in
``shelf_impression_request_id_conflicts_total``. Its events, which can only name the id the
caller was given, attach to the first search with that id.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import uuid
from collections.abc import Sequence

from search.events.log import EventLog, Impression
from search.metrics import IMPRESSION_ID_CONFLICTS, IMPRESSIONS_DROPPED, IMPRESSIONS_WRITTEN

log = logging.getLogger(__name__)

_BATCH = 500  # most impressions per write
LINGER_S = 0.02  # how long the writer waits for more after the first impression of a batch


class ImpressionWriter:
    """Queues impressions and writes them in batches from one background thread."""

    def __init__(
        self, event_log: EventLog, *, max_queued: int = 10_000, linger_s: float = LINGER_S
    ) -> None:
        self.event_log = event_log
        self.linger_s = linger_s
        self._queue: queue.Queue[Impression | None] = queue.Queue(maxsize=max_queued)
        # Impressions queued and impressions done (written or dropped), in queue order: a flush
        # waits for those queued before it, not for the queue to empty (it may never, under load).
        self._offered = 0
        self._done = 0
        self._offer_lock = threading.Lock()
        self._progress = threading.Condition()
        self._wake = threading.Event()  # a flush cuts the linger short
        self._thread = threading.Thread(target=self._run, name="shelf-impressions", daemon=True)
        self._thread.start()

    def offer(self, impression: Impression) -> bool:
        """Queue one impression; ``False`` (and counted) when the queue is full."""
        with self._offer_lock:
            try:
                self._queue.put_nowait(impression)
            except queue.Full:
                IMPRESSIONS_DROPPED.labels(reason="queue_full").inc()
                return False
            self._offered += 1
        return True

    def queued(self) -> int:
        """Impressions waiting to be written (``/metrics`` reads it when scraped)."""
        return self._queue.qsize()

    def flush(self) -> None:
        """Block until every impression queued so far has been written (or dropped)."""
        target = self._offered
        self._wake.set()
        with self._progress:
            self._progress.wait_for(lambda: self._done >= target or not self._thread.is_alive())

    def close(self) -> None:
        """Write what is queued, then stop the thread."""
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
                    unique = self._with_unique_ids(impressions)
                    written = self.event_log.record_impressions(unique)
                    IMPRESSIONS_WRITTEN.inc(written)
                    if written < len(unique):  # rows the store could not take, dropped alone
                        IMPRESSIONS_DROPPED.labels(reason="rejected").inc(len(unique) - written)
            except Exception as exc:  # the store is down: drop, count, keep serving
                IMPRESSIONS_DROPPED.labels(reason="store_error").inc(len(impressions))
                log.warning("impressions dropped: %s", exc, extra={"count": len(impressions)})
            finally:
                with self._progress:
                    self._done += len(impressions)
                    self._progress.notify_all()
            if len(impressions) < len(batch):  # the None that close() queued
                return

    def _with_unique_ids(self, impressions: Sequence[Impression]) -> list[Impression]:
        """``impressions`` with each request id already stored, or repeated in the batch,
        replaced by a derived one, so that no search's impression is lost to another's."""
        stored = self.event_log.known_request_ids(imp.request_id for imp in impressions)
        seen: set[str] = set()
        unique = []
        for imp in impressions:
            if imp.request_id in stored or imp.request_id in seen:
                derived = f"{imp.request_id[:55]}.{uuid.uuid4().hex[:8]}"
                IMPRESSION_ID_CONFLICTS.inc()
                log.warning(
                    "request id already has an impression: stored under a derived id",
                    extra={"client_request_id": imp.request_id, "stored_as": derived},
                )
                imp = dataclasses.replace(imp, request_id=derived)
            seen.add(imp.request_id)
            unique.append(imp)
        return unique
