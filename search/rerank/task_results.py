"""Celery task results as they are stored, read from Redis pub/sub until a deadline.

Celery's Redis result backend publishes every state it stores on the task's key as a channel
(``celery-task-meta-<id>``). One subscription per wait, on its own connection, blocks in
``select`` until a result arrives or the deadline passes: no polling, and the wait is measured
against the clock, not summed from sleeps. Results stored before the subscription took effect
are read once, with one ``MGET``, as soon as Redis confirms it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

from celery import states

__all__ = ["TaskResults"]


class TaskResults:
    """A subscription to the results of some tasks on a Celery Redis result backend.

    Make it before sending the tasks (so none can finish unseen), iterate :meth:`until`, then
    :meth:`close`. Redis errors (``redis.RedisError``) propagate; each blocking call is bounded
    by the backend's ``redis_socket_timeout``.
    """

    def __init__(self, backend: Any, task_ids: Sequence[str]) -> None:
        self._backend = backend
        self._task_of = {bytes(backend.get_key_for_task(t)): t for t in task_ids}
        self._unconfirmed = len(self._task_of)
        self._pubsub = backend.client.pubsub()
        try:
            if self._task_of:
                self._pubsub.subscribe(*self._task_of)  # sent, not waited for
        except BaseException:
            self._pubsub.close()
            raise

    def until(self, deadline: float) -> Iterator[tuple[str, dict[str, Any]]]:
        """``(task_id, meta)`` for each task once it is done (succeeded, failed or revoked),
        until all are or ``time.monotonic()`` reaches ``deadline``. ``meta["status"]`` is the
        Celery state, ``meta["result"]`` the return value or the error."""
        while self._task_of and (left := deadline - time.monotonic()) > 0:
            message = self._pubsub.get_message(timeout=left)
            if message is None:
                continue
            if message["type"] == "subscribe":
                self._unconfirmed -= 1
                if self._unconfirmed == 0:
                    yield from self._stored_before_subscribing()
            elif message["type"] == "message":
                yield from self._done(message["channel"], message["data"])

    def close(self) -> None:
        """Drop the subscription's connection (without waiting for Redis to confirm)."""
        self._pubsub.close()

    def _stored_before_subscribing(self) -> Iterator[tuple[str, dict[str, Any]]]:
        channels = list(self._task_of)
        for channel, payload in zip(channels, self._backend.mget(channels), strict=True):
            if payload is not None:
                yield from self._done(channel, payload)

    def _done(self, channel: bytes, payload: bytes) -> Iterator[tuple[str, dict[str, Any]]]:
        task_id = self._task_of.get(channel)
        if task_id is None:
            return  # already seen (a result read by MGET and then published)
        meta: dict[str, Any] = self._backend.decode_result(payload)
        if meta["status"] in states.READY_STATES:
            del self._task_of[channel]
            yield task_id, meta
