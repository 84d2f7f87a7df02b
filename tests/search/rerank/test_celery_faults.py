"""Celery mode under faults: a hung Redis, a crashed worker and its backlog, on real processes.

A redis-server of the test's own is SIGSTOPped (the shared one is never touched); workers are
real `shelf worker` processes killed with SIGKILL.
"""

from __future__ import annotations

import gc
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from celery.signals import after_task_publish

from catalog.samples import sample_queries
from search.pipeline.config import SearchConfig
from search.pipeline.request import search_request
from search.pipeline.service import SearchService
from search.recall.embedded.backend import EmbeddedRecall
from search.rerank.cache import RedisScoreCache
from search.rerank.rerankers import Candidate, CeleryReranker
from search.settings import Settings
from tests.workers.celery_harness import WorkerProcess, wait_until_serving, worker_env
from workers.celery_app import RERANK_TASK, make_celery_app
from workers.rerank.model import model_id_of

QUERY = next(q for q in sample_queries() if q["locale"] == "de-DE")
SLACK_S = 0.5  # what the acceptance allows past the deadline


@dataclass
class OwnRedis:
    """A redis-server process of one test: it may be stopped and continued at will."""

    process: subprocess.Popen[bytes]
    url: str

    def stop(self) -> None:
        """Freeze it (SIGSTOP): connections stay open, nothing answers."""
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        """Let it run again (SIGCONT)."""
        os.kill(self.process.pid, signal.SIGCONT)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not on PATH (`apt-get install redis-server`)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [binary, "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    server = OwnRedis(process, f"redis://127.0.0.1:{port}/0")
    try:
        client = redis.Redis.from_url(server.url, socket_timeout=1)
        for _ in range(200):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.02)
        yield server
    finally:
        server.resume()
        process.terminate()
        process.wait(timeout=10)


def _stop_on_first_publish(server: OwnRedis) -> Callable[[], None]:
    """Stop ``server`` as soon as the first rerank task is published; returns the undo."""

    def stop(sender: str | None = None, **_: object) -> None:
        if sender == RERANK_TASK:
            after_task_publish.disconnect(stop)
            server.stop()

    after_task_publish.connect(stop, weak=False)
    return lambda: after_task_publish.disconnect(stop)


HANGS = ["before the search", "while sending the tasks", "while waiting for results"]


# A client whose Redis stops mid-read gives up on the connection, and redis-py/kombu leave that
# socket to the garbage collector: the ResourceWarning is the fault injected, not a leak of Shelf's
# (collected inside the test, below, so it never lands in a later test).
@pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("when", HANGS)
def test_sigstopped_redis_keeps_a_search_within_its_deadline(
    when: str, own_redis: OwnRedis, sample_index: EmbeddedRecall, tmp_path: Path
) -> None:
    deadline_ms = 1000
    settings = Settings(
        rerank_mode="celery",
        redis_url=own_redis.url,
        rerank_model="no-model-needed",
        rerank_queue="rerank-nobody",
        rerank_deadline_ms=deadline_ms,
        data_dir=tmp_path,
    )
    cache = RedisScoreCache.from_url(own_redis.url, prefix="s:", ttl_s=60, timeout_s=0.25)
    reranker = CeleryReranker(settings)
    pipeline = SearchService(
        sample_index, reranker, cache=cache, config=SearchConfig(deadline_ms=deadline_ms)
    )
    cache.get_many(["warm"])  # connections made before any hang
    reranker.score("warm", [Candidate("w", "w")], deadline=time.monotonic() + 0.05)

    undo, timer = (lambda: None), threading.Timer(deadline_ms / 2000, own_redis.stop)
    if when == "before the search":
        own_redis.stop()
    elif when == "while sending the tasks":
        undo = _stop_on_first_publish(own_redis)
    else:
        timer.start()
    started = time.monotonic()
    try:
        response = pipeline.search(
            search_request(
                f"{QUERY['text']} {uuid.uuid4().hex}", k=50, product_locale=QUERY["locale"]
            )
        )
        took = time.monotonic() - started
    finally:
        undo()
        timer.cancel()
        own_redis.resume()

    assert took <= deadline_ms / 1000 + SLACK_S, f"{took:.2f}s"
    assert response.items and response.degraded and response.scored == 0
    # Redis is back: the next search's tasks reach the broker again.
    waiting = reranker.queue_depth()
    reranker.score("again", [Candidate("a", "a")], deadline=time.monotonic() + 0.05)
    assert reranker.queue_depth() == waiting + 1
    reranker.close()
    gc.collect()
    pipeline.close()


@pytest.mark.slow
def test_worker_restarted_after_a_crash_serves_fresh_searches_within_5s(
    redis_url: str, test_model_dir: Path, run_prefix: str, tmp_path: Path
) -> None:
    queue = f"{run_prefix}-crash"
    settings = Settings(
        rerank_mode="celery",
        redis_url=redis_url,
        rerank_model=str(test_model_dir),
        rerank_queue=queue,
        score_cache_prefix=f"{run_prefix}:crash:",
        data_dir=tmp_path,
    )
    env = worker_env(
        redis_url=redis_url,
        model_dir=test_model_dir,
        queue=queue,
        cache_prefix=settings.score_cache_prefix,
    )
    app = make_celery_app(settings)
    reranker = CeleryReranker(settings)
    model_id = model_id_of(settings.rerank_model, settings.rerank_model_revision)
    long_text = "Edelstahl Trinkflasche mit Deckel, hält Getränke kalt. " * 30
    first = WorkerProcess(env, tmp_path / "first.log", 2, f"--hostname=first@{run_prefix}")
    second: WorkerProcess | None = None
    try:
        wait_until_serving(app, queue, model_id, first)

        def give_up_quickly(tag: str) -> None:
            """A search whose four tasks are still queued when it gives up after 50 ms."""
            batch = [Candidate(f"{tag}-{i}", f"{i} {long_text}") for i in range(128)]
            reranker.score(f"flasche {tag}", batch, deadline=time.monotonic() + 0.05)

        for i in range(5):  # the worker is busy when it dies
            give_up_quickly(f"busy{i}")
        os.kill(first.pid, signal.SIGKILL)
        first.process.wait()
        for i in range(30):  # searches go on while no worker runs: a backlog of dead tasks
            give_up_quickly(f"down{i}")
        backlog = reranker.queue_depth()
        # Scoring all of it would take a fresh worker far longer than the bound.
        assert backlog >= 100, backlog

        spawned = time.monotonic()
        name = f"second@{run_prefix}"
        second = WorkerProcess(env, tmp_path / "second.log", 2, f"--hostname={name}")
        while not app.control.ping(destination=[name], timeout=0.2):
            assert second.process.poll() is None, second.log_tail()
            assert time.monotonic() - spawned < 120, second.log_tail()
        ready = time.monotonic()
        fresh = [Candidate(f"fresh-{i}", f"{i} {long_text}") for i in range(32)]
        while True:
            started = time.monotonic()
            scores = reranker.score(f"fresh {uuid.uuid4().hex}", fresh, deadline=started + 2.0)
            if None not in scores:
                break
            assert time.monotonic() - ready < 5.0, second.log_tail()
        served = time.monotonic()
        print(
            f"backlog {backlog} tasks; worker ready {ready - spawned:.1f}s after the restart; "
            f"first fresh search reranked {served - ready:.2f}s after ready"
        )
        assert served - ready <= 5.0
        assert reranker.queue_depth() == 0  # the dead backlog was dropped, not kept
    finally:
        first.stop()
        if second is not None:
            second.stop()
        reranker.close()
        redis.Redis.from_url(redis_url).delete(queue)
