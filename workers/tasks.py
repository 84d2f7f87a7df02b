"""The rerank task: score a chunk of candidates with this worker's model and cache the scores."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from celery.exceptions import Ignore, SoftTimeLimitExceeded

from search.errors import Overloaded, RerankTimeout
from search.rerank.cache import ScoreCache, make_score_cache
from search.settings import Settings
from workers.rerank.scoring import Candidate, submit_and_store
from workers.task_names import EMBED_TASK, INGEST_TASK, RERANK_TASK

if TYPE_CHECKING:
    from celery import Celery, Task

    from workers.rerank.model import RerankModel

log = logging.getLogger(__name__)


class ModelMismatch(Exception):
    """The client asked for scores of a model this worker does not serve (never retried)."""


class TaskExpired(Exception):
    """The search that sent the task gave up before a worker could start scoring it."""


@dataclass
class WorkerState:
    """What a worker process holds for its whole life: the model and the score cache."""

    model: RerankModel
    cache: ScoreCache
    soft_time_limit_s: float


_state: WorkerState | None = None
_state_lock = threading.Lock()


def worker_state(settings: Settings) -> WorkerState:
    """The process's model and cache, loaded and warmed up on first use."""
    global _state
    with _state_lock:
        if _state is None:
            from workers.rerank.model import load_model

            model = load_model(settings)
            model.warm_up()
            # Workers always share their scores: Redis unless the cache is explicitly off.
            cache = make_score_cache(settings, default="redis")
            _state = WorkerState(model, cache, settings.rerank_soft_time_limit_s)
            log.info("worker ready", extra={"model": model.model_id, "device": model.device})
        return _state


def rerank(
    model_id: str,
    query: str,
    candidates: list[list[str]],
    settings: Settings,
    expires_at: float | None = None,
) -> list[float]:
    """Score ``[product_id, text]`` pairs against ``query``; the scores also go to the cache.

    ``expires_at`` (``time.time()`` seconds; the search's deadline plus a grace): past it, no
    search waits for these scores, and the task raises ``TaskExpired`` before any model work.
    """
    state = worker_state(settings)
    if state.model.model_id != model_id:
        raise ModelMismatch(
            f"this worker serves {state.model.model_id}, the request is for {model_id}: give "
            "the API and the workers the same SHELF_RERANK_MODEL and SHELF_RERANK_MODEL_REVISION"
        )
    if expires_at is not None and (late_s := time.time() - expires_at) > 0:
        raise TaskExpired(
            f"the search gave up on these {len(candidates)} pairs {late_s:.2f}s ago: not scored"
        )
    chunk = [Candidate(product_id, text) for product_id, text in candidates]
    # The same instant on this process's monotonic clock: pairs still queued for the model
    # then are dropped unscored, and pairs that cannot be scored by then are refused at once.
    deadline = None if expires_at is None else time.monotonic() + (expires_at - time.time())
    try:
        future = submit_and_store(
            state.model, state.cache, query, chunk, where="worker", deadline=deadline
        )
        return future.result(timeout=state.soft_time_limit_s)
    except (Overloaded, RerankTimeout) as exc:  # not scorable in time, or dropped while queued
        raise TaskExpired(
            f"{len(chunk)} pairs not scored before the search's deadline: {exc}"
        ) from None
    except FutureTimeout:
        raise SoftTimeLimitExceeded(
            f"rerank of {len(chunk)} pairs took over {state.soft_time_limit_s}s; the scores "
            "will still reach the cache"
        ) from None


def register_tasks(app: Celery, settings: Settings) -> None:
    """Register the rerank, ingest and embed tasks on ``app``."""

    @app.task(name=RERANK_TASK, bind=True, acks_late=True, reject_on_worker_lost=True)
    def rerank_task(
        task: Task,
        model_id: str,
        query: str,
        candidates: list[list[str]],
        expires_at: float | None = None,
    ) -> list[float]:
        try:
            return rerank(model_id, query, candidates, settings, expires_at)
        except TaskExpired as exc:
            # As Celery does for a task that expired before it ran: revoked, without a traceback.
            log.info("rerank task dropped: %s", exc, extra={"task_id": task.request.id})
            task.backend.mark_as_revoked(task.request.id, str(exc), request=task.request)
            raise Ignore() from None

    @app.task(name=INGEST_TASK, acks_late=True, reject_on_worker_lost=True)
    def ingest_task(records: list[list[Any]], mapping: dict[str, Any]) -> dict[str, Any]:
        from workers.ingest_tasks import ingest_chunk_task

        return ingest_chunk_task(records, mapping, settings)

    @app.task(name=EMBED_TASK, acks_late=True, reject_on_worker_lost=True)
    def embed_task(model_id: str, items: list[list[str]]) -> int:
        from workers.embedding.tasks import embed_batch_task

        return embed_batch_task(model_id, items, settings)

    _ = rerank_task, ingest_task, embed_task  # registered on the app by the decorators
