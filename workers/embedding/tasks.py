"""The embedding pass spread over Celery workers (``shelf embed --celery``).

The producer lists the products that lack a vector (``Recall.pending_vectors``) and sends them in
batches, a bounded number in flight; each worker embeds its batch with its own model (loaded
once per process, GPU in production) and writes the vectors straight into its configured index
(``Recall.put_vectors``). A redelivered task writes the same vectors again, so tasks are
idempotent; a product whose text changed meanwhile is skipped by ``put_vectors`` and listed again.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from search.embedding.backfill import EmbedReport, vectors_for
from search.errors import ShelfError
from search.recall import PendingText, StoredVector
from search.settings import Settings
from workers.ingest_tasks import task_result, worker_recall
from workers.task_names import EMBED_TASK

if TYPE_CHECKING:
    from celery import Celery

    from search.embedding.cache import EmbeddingCache
    from search.recall import Recall
    from workers.embedding.model import Embedder


_embedder: Embedder | None = None
_cache: EmbeddingCache | None = None
_embedder_lock = threading.Lock()


class EmbedTaskFailed(ShelfError):
    """The workers could not embed a batch (the model failed, or none answered in time)."""

    status_code = 503


def worker_embedder(settings: Settings) -> tuple[Embedder, EmbeddingCache]:
    """The worker process's one embedding model (warmed up) and embedding cache."""
    global _embedder, _cache
    with _embedder_lock:
        if _embedder is None or _cache is None:
            from search.embedding.cache import EmbeddingCache
            from workers.embedding.factory import make_embedder

            embedder = make_embedder(settings)
            if embedder is None:
                raise EmbedTaskFailed("this worker has SHELF_EMBED_MODEL=none: it cannot embed")
            embedder.warm_up()
            _embedder, _cache = embedder, EmbeddingCache(settings.embed_cache_path)
        return _embedder, _cache


def embed_batch_task(model_id: str, items: list[list[str]], settings: Settings) -> int:
    """The task body: embed ``[product_id, text_hash, text]`` items and store the vectors in the
    worker's index; returns how many were stored."""
    embedder, cache = worker_embedder(settings)
    if embedder.model_id != model_id:
        raise EmbedTaskFailed(
            f"this worker embeds with {embedder.model_id}, the pass asked for {model_id}: give "
            "the workers and `shelf embed` the same SHELF_EMBED_MODEL"
        )
    pending = [PendingText(*item) for item in items]
    vectors = vectors_for(embedder, pending, cache)
    stored = [StoredVector(p.product_id, p.text_hash, vectors[p.text_hash]) for p in pending]
    return worker_recall(settings).put_vectors(model_id, stored)


def embed_with_celery(
    recall: Recall,
    settings: Settings,
    *,
    app: Celery,
    progress: Callable[[EmbedReport], None] | None = None,
) -> EmbedReport:
    """List what lacks a vector and have the workers of ``app`` (``make_celery_app``) embed it,
    ``SHELF_INGEST_IN_FLIGHT`` batches at a time; returns when nothing is pending and every batch
    has answered."""
    model_id = _model_id(settings)
    batch, in_flight = settings.embed_batch_size, settings.ingest_in_flight
    report, started = EmbedReport(), time.perf_counter()
    report.pending = recall.vector_status().without_vector
    sent: set[tuple[str, str]] = set()
    waiting: deque[tuple[Any, int]] = deque()
    while True:
        if len(waiting) < in_flight:
            fresh = [
                p
                for p in recall.pending_vectors(model_id, limit=batch * (in_flight + 1))
                if (p.product_id, p.text_hash) not in sent
            ][:batch]
            if fresh:
                sent.update((p.product_id, p.text_hash) for p in fresh)
                items = [[p.product_id, p.text_hash, p.text] for p in fresh]
                task = app.send_task(EMBED_TASK, args=(model_id, items), queue=settings.embed_queue)
                waiting.append((task, len(fresh)))
                continue
        if not waiting:
            break
        task, size = waiting.popleft()
        stored = _wait(app, task, settings.ingest_task_timeout_s)
        report.embedded += stored
        report.stale += size - stored
        report.seconds = time.perf_counter() - started
        if progress:
            progress(report)
    report.pending = recall.vector_status().without_vector
    report.seconds = time.perf_counter() - started
    return report


def _model_id(settings: Settings) -> str:
    """The configured model's id, without loading its weights where that can be avoided."""
    from workers.embedding.factory import make_embedder

    embedder = make_embedder(settings)
    if embedder is None:
        raise EmbedTaskFailed("SHELF_EMBED_MODEL=none: there is no model to embed with")
    try:
        return embedder.model_id
    finally:
        embedder.close()


def _wait(app: Any, result: Any, timeout_s: float) -> int:
    stored = task_result(
        app,
        result,
        timeout_s,
        failed=lambda reason: EmbedTaskFailed(
            f"an embedding worker failed on a batch: {reason}; the vectors already stored are "
            "kept, and `shelf embed` finishes the rest"
        ),
        timed_out=EmbedTaskFailed(
            f"no embedding worker finished a batch within {timeout_s:.0f}s: start one with "
            "`shelf worker --queues embed` (SHELF_EMBED_QUEUE), then run `shelf embed` again"
        ),
    )
    return int(stored)
