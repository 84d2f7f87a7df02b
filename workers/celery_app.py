"""The Celery app: rerank tasks on Redis, one worker process per GPU, the model loaded once.

Choices that make a dying worker lose nothing and a GPU run full batches:

- ``acks_late`` and ``reject_on_worker_lost``: a task is acknowledged only after it ran; a
  worker killed mid-task leaves it unacknowledged, and Redis hands it out again once
  ``SHELF_RERANK_VISIBILITY_TIMEOUT_S`` has passed. The task is idempotent (the same input writes
  the same cache entries), so running it twice is harmless.
- ``prefetch 1``: a worker reserves no more tasks than it has threads to run them.
- Expiry: a rerank task expires at its search's deadline plus ``SHELF_RERANK_TASK_EXPIRY_GRACE_MS``
  (Celery revokes it when a worker takes it; the task checks again before the model). A worker
  restarted after a crash, or a task redelivered late, costs no model time for searches that
  have given up.
- The threads pool in one process per GPU: nothing forks after CUDA initialises, and the
  concurrent tasks of a process share one model, whose dynamic batcher packs their pairs into
  common batches.
- Time limits: Celery enforces time limits only in its prefork pool, which would defeat the
  shared batches. The task enforces its soft limit itself (it stops waiting and raises
  ``SoftTimeLimitExceeded``; the batch still finishes into the cache); no thread can be killed,
  so the hard limit is the model's own bound (``max_length`` tokens per pair, packed batches),
  and a wedged process is the orchestrator's to restart (the compose file's health check).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery
from celery.backends.redis import RedisBackend

from search.settings import Settings, get_settings
from workers.tasks import EMBED_TASK, INGEST_TASK, RERANK_TASK, register_tasks

__all__ = ["EMBED_TASK", "INGEST_TASK", "RERANK_TASK", "celery_config", "make_celery_app"]

log = logging.getLogger(__name__)


class PollingRedisBackend(RedisBackend):
    """Redis results without Celery's own result consumer.

    The stock backend subscribes to every task's channel as it is sent, and when Redis is down
    it retries that subscription for some 20 seconds: a search must give up in milliseconds.
    The rerank client subscribes to its tasks' channels itself (``search/rerank/task_results.py``),
    bounded by its deadline; bulk jobs poll.
    """

    def on_task_call(self, producer: Any, task_id: str) -> None:
        """Do not subscribe: whoever waits for the result reads it within its own bound."""


def celery_config(settings: Settings) -> dict[str, Any]:
    """Celery settings derived from Shelf's."""
    return {
        "broker_url": settings.redis_url,
        "result_backend": f"{__name__}:PollingRedisBackend+{settings.redis_url}",
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_track_started": True,
        "worker_prefetch_multiplier": 1,
        "task_soft_time_limit": settings.rerank_soft_time_limit_s,
        "task_time_limit": settings.rerank_time_limit_s,
        "task_routes": {
            RERANK_TASK: {"queue": settings.rerank_queue},
            INGEST_TASK: {"queue": settings.ingest_queue},
            EMBED_TASK: {"queue": settings.embed_queue},
        },
        "task_default_queue": settings.rerank_queue,
        "result_expires": 3600,
        # A search must not hang on a broker that is down: fail the send, degrade, move on.
        "task_publish_retry": False,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {
            "visibility_timeout": settings.rerank_visibility_timeout_s,
            "unacked_restore_interval": max(1, int(settings.rerank_visibility_timeout_s // 10)),
            "unacked_restore_throttle": 1,
            "socket_connect_timeout": 2,
        },
        # The Redis result backend reads these, not result_backend_transport_options.
        "redis_socket_connect_timeout": 2,
        "worker_hijack_root_logger": False,
    }


def make_celery_app(settings: Settings, *, client: bool = False) -> Celery:
    """A Celery app for these settings; the rerank task is registered on it.

    ``client=True`` is the search side: it connects to the broker once and fails at once, and
    every Redis call (publishing, reading results) gives up after
    ``settings.rerank_redis_timeout_s``, since a search waiting on a Redis that is down or hung
    would miss its deadline anyway.
    """
    app = Celery("shelf", set_as_current=False)
    app.conf.update(celery_config(settings))
    if client:
        timeout_s = settings.rerank_redis_timeout_s
        app.conf.broker_transport_options = {
            **app.conf.broker_transport_options,
            "max_retries": 0,
            "socket_timeout": timeout_s,
            "socket_connect_timeout": timeout_s,
        }
        app.conf.redis_socket_timeout = timeout_s
        app.conf.redis_socket_connect_timeout = timeout_s
    register_tasks(app, settings)
    return app


# For `celery -A workers.celery_app worker`; there the model loads with the first rerank task.
# `shelf worker` loads and warms it before taking any task.
app = make_celery_app(get_settings())
