"""Impressions are written off the request path: a bounded queue and one writer thread.

A search only offers its impression to the queue (``put_nowait``); the writer wakes on the first
one, lingers a few milliseconds so that those arriving meanwhile join it, writes them all in one
batch and goes back to waiting. Without the linger the writer woke for every search and wrote
one row at a time, and each wake-up cost the search thread a GIL hand-off: in-process search
throughput rose by about half with it. When the queue is full the impression
is dropped and counted (``shelf_impressions_dropped_total``): impressions are best-effort, a
search never waits for the event store. Events (``POST /events``) are the opposite: they are
acknowledged only once stored.
"""

from __future__ import annotations

import logging
import queue
import threading

from search.experiments.event_log import EventLog, Impression
from search.metrics import IMPRESSIONS_DROPPED, IMPRESSIONS_WRITTEN

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
                    self.event_log.record_impressions(impressions)
                    IMPRESSIONS_WRITTEN.inc(len(impressions))
            except Exception as exc:  # the store is down: drop, count, keep serving
                IMPRESSIONS_DROPPED.labels(reason="store_error").inc(len(impressions))
                log.warning("impressions dropped: %s", exc, extra={"count": len(impressions)})
            finally:
                with self._progress:
                    self._done += len(impressions)
                    self._progress.notify_all()
            if len(impressions) < len(batch):  # the None that close() queued
                return
