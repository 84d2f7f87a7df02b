"""Impressions are written off the request path: a bounded queue and one writer thread.

A search only offers its impression to the queue (``put_nowait``); the writer takes everything
waiting, writes it in one batch and goes back to waiting. When the queue is full the impression
is dropped and counted (``shelf_impressions_dropped_total``): impressions are best-effort, a
search never waits for the event store. Events (``POST /events``) are the opposite: they are
acknowledged only once stored.
"""

from __future__ import annotations

import logging
import queue
import threading

from search.experiments.event_log import EventLog, Impression
from search.metrics import IMPRESSION_QUEUE_DEPTH, IMPRESSIONS_DROPPED, IMPRESSIONS_WRITTEN

log = logging.getLogger(__name__)

_BATCH = 500  # most impressions per write


class ImpressionWriter:
    """Queues impressions and writes them in batches from one background thread."""

    def __init__(self, event_log: EventLog, *, max_queued: int = 10_000) -> None:
        self.event_log = event_log
        self._queue: queue.Queue[Impression | None] = queue.Queue(maxsize=max_queued)
        self._thread = threading.Thread(target=self._run, name="shelf-impressions", daemon=True)
        self._thread.start()

    def offer(self, impression: Impression) -> bool:
        """Queue one impression; ``False`` (and counted) when the queue is full."""
        try:
            self._queue.put_nowait(impression)
        except queue.Full:
            IMPRESSIONS_DROPPED.labels(reason="queue_full").inc()
            return False
        IMPRESSION_QUEUE_DEPTH.set(self._queue.qsize())
        return True

    def flush(self) -> None:
        """Block until every impression queued so far has been written (or dropped)."""
        self._queue.join()

    def close(self) -> None:
        """Write what is queued, then stop the thread."""
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
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
                for _ in batch:
                    self._queue.task_done()
                IMPRESSION_QUEUE_DEPTH.set(self._queue.qsize())
            if any(item is None for item in batch):
                return
