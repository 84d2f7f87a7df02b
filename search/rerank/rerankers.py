"""The Reranker seam: score (query, product text) pairs within a deadline.

Two modes with one contract: the model in this process (the embedded default) and Celery tasks
on a pool of GPU workers. Both score through ``workers/rerank/model.py`` and both write what they
score
to the score cache, even when it arrives after the caller stopped waiting. The cache lookup
itself happens above the seam, in the search service: a reranker only ever sees cache misses.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from search.errors import ConfigError, ModelMissing, Overloaded, RerankTimeout
from search.metrics import RERANK_TASK_FAILURES, RERANK_TASKS_SENT
from search.rerank.cache import ScoreCache, score_key
from search.rerank.task_results import TaskResults
from search.settings import Settings
from workers.rerank.scoring import Candidate, submit_and_store

if TYPE_CHECKING:
    from workers.rerank.model import RerankModel

log = logging.getLogger(__name__)

__all__ = [
    "Candidate",
    "CeleryReranker",
    "LocalReranker",
    "MissingReranker",
    "Reranker",
    "available_reranker",
    "make_reranker",
]

_PING_TIMEOUT_S = 0.5  # readiness and queue-depth checks must answer quickly
# How often a search waiting for the local model asks whether it was abandoned: well within the
# 100 ms an abandoned search has to stop (issue 27), for one clock read and one lock each time.
WAIT_SLICE_S = 0.02
Cancelled = Callable[[], bool]


class Reranker(Protocol):
    """Scores candidates against a query. Two modes: in-process and Celery workers."""

    @property
    def model_id(self) -> str:
        """The weights the scores come from (name and revision): part of every cache key."""
        ...

    def score(
        self,
        query: str,
        candidates: Sequence[Candidate],
        *,
        deadline: float,
        cancelled: Cancelled | None = None,
    ) -> list[float | None]:
        """One score per candidate in order; ``None`` where none arrived by ``deadline``.

        ``deadline`` is a ``time.monotonic()`` instant. Scores that arrive later still reach
        the score cache. ``cancelled`` (when given): the caller stopped waiting once it says
        True; the local reranker stops waiting within ``WAIT_SLICE_S`` (celery mode waits
        until its next result or the deadline).
        """
        ...

    def warm_up(self) -> None:
        """Get ready for the first request (long-lived processes call it once at start)."""
        ...

    def ready(self) -> str:
        """What serves the scores, in words; raises when nothing can (for readiness checks)."""
        ...

    def queue_depth(self) -> int:
        """Work waiting to be scored: pairs for the local model, tasks in the broker's queue."""
        ...

    def wait_estimate_s(self) -> float | None:
        """Seconds before the work queued now would be scored (a new search's pairs would wait
        that long); None when the reranker cannot tell."""
        ...

    def close(self) -> None:
        """Release what the reranker holds."""
        ...


class LocalReranker:
    """The embedded default: the model runs in this process, behind its dynamic batcher."""

    def __init__(self, model: RerankModel, cache: ScoreCache) -> None:
        self.model = model
        self.cache = cache

    @property
    def model_id(self) -> str:
        """The weights the scores come from."""
        return self.model.model_id

    def score(
        self,
        query: str,
        candidates: Sequence[Candidate],
        *,
        deadline: float,
        cancelled: Cancelled | None = None,
    ) -> list[float | None]:
        """Score in-process; a batch running at the deadline finishes into the cache only, and
        pairs still queued then are dropped. Once ``cancelled()``, stop waiting (unscored)."""
        if not candidates:
            return []
        try:
            future = submit_and_store(
                self.model, self.cache, query, candidates, where="local", deadline=deadline
            )
        except Overloaded as exc:  # the model's queue is full: shed, as a late answer would be
            RERANK_TASK_FAILURES.labels(reason="overloaded").inc()
            log.warning("reranking skipped: %s", exc)
            return [None] * len(candidates)
        try:
            return list(_wait(future, deadline, cancelled))
        except (FutureTimeout, RerankTimeout):
            return [None] * len(candidates)
        except Overloaded:  # the server is stopping: its queued pairs were dropped
            return [None] * len(candidates)
        except Exception:  # the model failed this batch: answer in recall order, loudly
            RERANK_TASK_FAILURES.labels(reason="model").inc()
            log.exception("reranking failed; answering in recall order")
            return [None] * len(candidates)

    def warm_up(self) -> None:
        """Run one representative batch through the model."""
        self.model.warm_up()

    def ready(self) -> str:
        """The model is loaded and its inference thread runs."""
        if not self.model.batcher.alive:
            raise RuntimeError("the model's inference thread has stopped")
        return f"local model {self.model_id} loaded on {self.model.device}"

    def queue_depth(self) -> int:
        """Pairs waiting for the model."""
        return self.model.batcher.queued_pairs

    def wait_estimate_s(self) -> float | None:
        """The model's queued and running pairs at its measured rate."""
        return self.model.batcher.wait_estimate_s()

    def close(self) -> None:
        """Stop the model's inference thread."""
        self.model.close()


class CeleryReranker:
    """The production mode: chunks of candidates go to GPU workers as Celery tasks.

    Workers write the scores to the shared Redis cache themselves, so a task that finishes after
    the deadline still saves the next search the work.
    """

    def __init__(self, settings: Settings, app: Any | None = None) -> None:
        from workers.celery_app import make_celery_app
        from workers.rerank.model import model_id_of
        from workers.tasks import RERANK_TASK

        self.task_name = RERANK_TASK
        self.app = app or make_celery_app(settings, client=True)
        self._model_id = model_id_of(settings.rerank_model, settings.rerank_model_revision)
        self.queue = settings.rerank_queue
        self.task_pairs = settings.rerank_task_pairs
        self.expiry_grace_s = settings.rerank_task_expiry_grace_ms / 1000
        self.redis_url = settings.redis_url
        self._broker: Any | None = None  # a Redis client for queue depth, made on first use

    @property
    def model_id(self) -> str:
        """The model the workers are configured with (they refuse to score for another)."""
        return self._model_id

    def score(
        self,
        query: str,
        candidates: Sequence[Candidate],
        *,
        deadline: float,
        cancelled: Cancelled | None = None,
    ) -> list[float | None]:
        """Send the candidates in chunks (recall order), then collect what is done in time
        (``cancelled`` is checked between results: a wait for one ends at the deadline).

        The tasks expire at ``deadline`` plus the grace: a worker drops one it could not start
        by then. A Redis that is down or hung costs at most its socket timeout per step.
        """
        scores: list[float | None] = [None] * len(candidates)
        if not candidates:
            return scores
        starts = {str(uuid.uuid4()): start for start in range(0, len(candidates), self.task_pairs)}
        try:
            results = TaskResults(self.app.backend, list(starts))
        except Exception as exc:  # the result store is down or hung: no task could be read
            RERANK_TASK_FAILURES.labels(reason="results").inc()
            log.warning("could not subscribe to rerank results: %s", exc)
            return scores
        try:
            sent = self._send(query, candidates, starts, deadline)
            if sent:
                self._collect(results, sent, scores, deadline, cancelled)
        finally:
            results.close()
        return scores

    def warm_up(self) -> None:
        """Nothing to do here: each worker warms its own model at start."""

    def ready(self) -> str:
        """At least one worker answers a ping through the broker."""
        replies = self.app.control.ping(timeout=_PING_TIMEOUT_S)
        if not replies:
            raise RuntimeError(f"no worker answered a ping within {_PING_TIMEOUT_S}s")
        return f"{len(replies)} worker(s) answered"

    def queue_depth(self) -> int:
        """Rerank tasks waiting in the broker's queue."""
        if self._broker is None:
            import redis

            self._broker = redis.Redis.from_url(
                self.redis_url,
                socket_timeout=_PING_TIMEOUT_S,
                socket_connect_timeout=_PING_TIMEOUT_S,
            )
        depth: Any = self._broker.llen(self.queue)
        return int(depth)

    def wait_estimate_s(self) -> float | None:
        """Unknown here: the workers' rates are not measured by the client."""
        return None

    def close(self) -> None:
        """Drop the broker connections."""
        if self._broker is not None:
            self._broker.close()
        self.app.close()

    def _send(
        self, query: str, candidates: Sequence[Candidate], starts: dict[str, int], deadline: float
    ) -> dict[str, int]:
        """Publish one task per chunk (``task_id: first candidate``) until one fails or the
        tasks' expiry passes; the tasks sent."""
        # The workers compare wall-clock time: another machine has another monotonic clock.
        expires_at = time.time() + (deadline - time.monotonic()) + self.expiry_grace_s
        expires = datetime.fromtimestamp(expires_at, tz=UTC)
        sent: dict[str, int] = {}
        for task_id, start in starts.items():
            if time.time() >= expires_at:
                break  # a worker would drop the rest unread
            chunk = candidates[start : start + self.task_pairs]
            try:
                self.app.send_task(
                    self.task_name,
                    args=(self._model_id, query, [[c.product_id, c.text] for c in chunk]),
                    kwargs={"expires_at": expires_at},
                    task_id=task_id,
                    queue=self.queue,
                    expires=expires,
                )
            except Exception as exc:  # broker down or hung: recall order for the rest
                RERANK_TASK_FAILURES.labels(reason="send").inc()
                log.warning("could not send rerank task: %s", exc)
                break
            RERANK_TASKS_SENT.inc()
            sent[task_id] = start
        return sent

    def _collect(
        self,
        results: TaskResults,
        sent: dict[str, int],
        scores: list[float | None],
        deadline: float,
        cancelled: Cancelled | None = None,
    ) -> None:
        """Fill in the scores of the tasks ``sent`` that are done by ``deadline`` (or until
        ``cancelled()``)."""
        pending = set(sent)
        try:
            for task_id, meta in results.until(deadline):
                if task_id not in pending:
                    continue  # subscribed to, but never sent
                pending.discard(task_id)
                if meta["status"] != "SUCCESS":
                    reason = "expired" if meta["status"] == "REVOKED" else "task"
                    RERANK_TASK_FAILURES.labels(reason=reason).inc()
                    log.warning("rerank task %s failed: %s", task_id, meta.get("result"))
                else:
                    start = sent[task_id]
                    values = [float(v) for v in meta["result"]]
                    scores[start : start + len(values)] = values
                if not pending or (cancelled is not None and cancelled()):
                    return
        except Exception as exc:  # the result store went away mid-search: keep what we have
            RERANK_TASK_FAILURES.labels(reason="results").inc()
            log.warning("could not read rerank results: %s", exc)


def make_reranker(settings: Settings, cache: ScoreCache) -> Reranker:
    """The Reranker the settings name (the local one with its model loaded)."""
    if settings.rerank_mode == "local":
        from workers.rerank.model import load_model

        return LocalReranker(load_model(settings), cache)
    if settings.rerank_mode == "celery":
        return CeleryReranker(settings)
    raise ConfigError(f"SHELF_RERANK_MODE={settings.rerank_mode} is unknown; use local or celery")


@dataclass(frozen=True)
class MissingReranker:
    """The configured cross-encoder is not on this machine and could not be fetched: searches
    run without it. ``reason`` is the loader's error, with what to do."""

    model: str
    reason: str

    @property
    def notice(self) -> str:
        """What each response that wanted reranking says."""
        return f"not reranked: the cross-encoder {self.model} is not available here"

    def announcement(self) -> str:
        """What a process says once, at start: that it searches without the model, and how
        to get it."""
        return (
            f"searching without the cross-encoder: {self.reason}. Or run Celery GPU workers "
            "that hold it (SHELF_RERANK_MODE=celery, `shelf worker`). Until then results are "
            "ranked without it; each response's `stages` says what ranked it."
        )


def available_reranker(
    settings: Settings, cache: ScoreCache
) -> tuple[Reranker | None, MissingReranker | None]:
    """The Reranker the settings name; or, when its model is not on this machine and cannot be
    fetched (``ModelMissing``), None and why. A model that is present but cannot be loaded,
    or has random weights, still raises."""
    try:
        return make_reranker(settings, cache), None
    except ModelMissing as exc:
        return None, MissingReranker(settings.rerank_model, str(exc))


def sigmoid(logit: float) -> float:
    """A model score (logit) as a 0-1 relevance; safe for large magnitudes."""
    if logit >= 0:
        return 1.0 / (1.0 + math.exp(-logit))
    z = math.exp(logit)
    return z / (1.0 + z)


def text_candidates(texts: Sequence[str]) -> list[Candidate]:
    """Free texts as candidates: a digest of the text stands in for the product id."""
    import hashlib

    return [
        Candidate("doc:" + hashlib.blake2b(t.encode("utf-8"), digest_size=16).hexdigest(), t)
        for t in texts
    ]


def cached_scores(
    reranker: Reranker,
    cache: ScoreCache,
    query: str,
    candidates: Sequence[Candidate],
    *,
    deadline: float,
    cancelled: Cancelled | None = None,
) -> tuple[list[float | None], int]:
    """Each candidate's score from the cache, else from the reranker by ``deadline`` (``None``
    where none came, or once ``cancelled()``); and how many came from the cache. Only misses
    reach the reranker."""
    keys = [score_key(reranker.model_id, query, c.product_id, c.text) for c in candidates]
    scores = cache.get_many(keys)
    misses = [i for i, score in enumerate(scores) if score is None]
    if misses:
        wanted = [candidates[i] for i in misses]
        if cancelled is None:
            fresh = reranker.score(query, wanted, deadline=deadline)
        else:
            fresh = reranker.score(query, wanted, deadline=deadline, cancelled=cancelled)
        for i, score in zip(misses, fresh, strict=True):
            scores[i] = score
    return scores, len(candidates) - len(misses)


def score_texts(
    reranker: Reranker, cache: ScoreCache, query: str, texts: Sequence[str], *, deadline_ms: float
) -> list[float]:
    """Raw model scores of every text, from the cache or the reranker; all or an error.

    Unlike search, which falls back to recall order, a caller asking to rerank free texts gets
    no partial answer: if any score is missing at the deadline it raises ``RerankTimeout``.
    """
    deadline = time.monotonic() + deadline_ms / 1000
    scores, _ = cached_scores(reranker, cache, query, text_candidates(texts), deadline=deadline)
    missing = sum(1 for score in scores if score is None)
    if missing:
        raise RerankTimeout(
            f"{missing} of {len(texts)} documents could not be scored: the deadline of "
            f"{deadline_ms:.0f} ms (SHELF_API_RERANK_DEADLINE_MS) passed or the model's queue was "
            "full; retry (the finished scores are cached) or send fewer documents"
        )
    return [float(score) for score in scores if score is not None]


def _wait(future: Any, deadline: float, cancelled: Cancelled | None) -> Any:
    """``future``'s result by ``deadline`` (``FutureTimeout`` after it), waiting in slices of
    ``WAIT_SLICE_S`` when ``cancelled`` can end the wait early (``FutureTimeout`` too)."""
    if cancelled is None:
        return future.result(timeout=max(deadline - time.monotonic(), 0.0))
    while True:
        left = deadline - time.monotonic()
        try:
            return future.result(timeout=max(min(left, WAIT_SLICE_S), 0.0))
        except FutureTimeout:
            if cancelled() or time.monotonic() >= deadline:
                raise
