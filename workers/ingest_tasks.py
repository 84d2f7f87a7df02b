"""Ingestion spread over workers: one Celery task per chunk, through the same ``ingest_chunk``.

The producer (``shelf ingest PATH --celery``) reads the file, sends each chunk as a task with a
bounded number in flight (memory stays flat however large the catalog), and folds the results
into the same report and rejects file as a local ingest. Chunks are idempotent (unchanged
products are skipped by content hash), so a redelivered task changes nothing.

With the embedded tantivy index only one process may write: run a single ingest worker per
index. With Elasticsearch any number of workers can ingest at once.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from catalog.ingest import ChunkResult
from catalog.mapping import FieldMapping
from catalog.readers import SourceRecord
from search.errors import ShelfError
from search.settings import Settings
from workers.task_names import INGEST_TASK

if TYPE_CHECKING:
    from celery import Celery

    from search.recall import Recall

_POLL_S = 0.05

_recall: Recall | None = None
_recall_lock = threading.Lock()  # guards creating the Recall
_write_lock = threading.Lock()  # one chunk at a time through the process's one index writer


class IngestTaskFailed(ShelfError):
    """A chunk could not be ingested by the workers (the backend failed or none answered)."""

    status_code = 503


def chunk_payload(chunk: list[SourceRecord]) -> list[list[Any]]:
    """Records as JSON-safe lists; values JSON cannot carry (Parquet dates, decimals) as text."""
    return json.loads(json.dumps([[r.line_no, r.raw, r.data, r.error] for r in chunk], default=str))


def worker_recall(settings: Settings) -> Recall:
    """The worker process's one Recall (one index writer per process)."""
    global _recall
    with _recall_lock:
        if _recall is None:
            from search.recall.factory import make_recall

            _recall = make_recall(settings)
        return _recall


def ingest_chunk_task(
    records: list[list[Any]], mapping: dict[str, Any], settings: Settings
) -> dict[str, Any]:
    """The task body: rebuild the records, run the shared ``ingest_chunk``, return its counts."""
    from catalog.ingest import ingest_chunk

    chunk = [SourceRecord(*record) for record in records]
    recall = worker_recall(settings)
    with _write_lock:
        result = ingest_chunk(chunk, recall, mapping=FieldMapping.model_validate(mapping))
    return result.as_dict()


def distributed_chunks(
    app: Celery,
    chunks: Iterator[list[SourceRecord]],
    mapping: FieldMapping,
    *,
    queue: str,
    in_flight: int,
    timeout_s: float,
) -> Iterator[ChunkResult]:
    """Send each chunk as a task, at most ``in_flight`` waiting; yield results in file order."""
    pending: deque[Any] = deque()
    mapping_data = mapping.model_dump()
    for chunk in chunks:
        pending.append(
            app.send_task(INGEST_TASK, args=(chunk_payload(chunk), mapping_data), queue=queue)
        )
        if len(pending) >= in_flight:
            yield _wait(app, pending.popleft(), timeout_s)
    while pending:
        yield _wait(app, pending.popleft(), timeout_s)


def task_result(
    app: Any,
    result: Any,
    timeout_s: float,
    *,
    failed: Callable[[object], ShelfError],
    timed_out: ShelfError,
) -> Any:
    """A bulk task's return value (polled, at most ``timeout_s``); ``failed(reason)`` is raised
    when the task failed, ``timed_out`` when no worker finished it in time."""
    from celery.exceptions import TimeoutError as CeleryTimeout

    try:
        for _, meta in app.backend.get_many([result.id], timeout=timeout_s, interval=_POLL_S):
            if meta["status"] != "SUCCESS":
                raise failed(meta.get("result"))
            return meta["result"]
    except CeleryTimeout:
        pass
    raise timed_out


def _wait(app: Celery, result: Any, timeout_s: float) -> ChunkResult:
    data = task_result(
        app,
        result,
        timeout_s,
        failed=lambda reason: IngestTaskFailed(
            f"an ingest worker failed on a chunk: {reason}; the chunks already done are "
            "kept, and re-running the ingest finishes the rest"
        ),
        timed_out=IngestTaskFailed(
            f"no ingest worker finished a chunk within {timeout_s:.0f}s: start one with "
            "`shelf worker --queues ingest` (SHELF_INGEST_QUEUE), then run the ingest again"
        ),
    )
    return ChunkResult.from_dict(data)
