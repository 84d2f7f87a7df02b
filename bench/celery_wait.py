"""How long a celery-mode rerank waits with no worker or a hung Redis, and what waiting costs.

Three measurements of ``CeleryReranker.score`` with nobody serving its queue (no model needed):

- overshoot: how far past its deadline one search's rerank stage returns;
- CPU: the share of a core that ``--searches`` searches waiting at once burn, from the
  process's CPU time over the wait;
- hung Redis: a redis-server of its own (broker and result store) is SIGSTOPped mid-wait; how
  long a search then takes (capped at ``--hang-cap-s``), then SIGCONT.

Ends with ``RESULT overshoot_ms=<a> cpu_core_pct=<b> hung_redis_s=<c>``.
Run: ``python -m bench.celery_wait`` (needs ``redis-server`` on PATH and Redis at --redis-url).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from bench.common import hardware

if TYPE_CHECKING:
    from search.rerank.rerankers import Candidate, CeleryReranker


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _reranker(redis_url: str, queue: str, deadline_ms: int) -> CeleryReranker:
    from search.rerank.rerankers import CeleryReranker
    from search.settings import Settings

    settings = Settings(
        rerank_mode="celery",
        redis_url=redis_url,
        rerank_model="bench-model",
        rerank_queue=queue,
        rerank_deadline_ms=deadline_ms,
        data_dir=Path(tempfile.mkdtemp(prefix="shelf-bench-wait-")),
    )
    return CeleryReranker(settings)


def _candidates(n: int) -> list[Candidate]:
    from search.rerank.rerankers import Candidate

    return [Candidate(f"p{i}", f"product text {i}") for i in range(n)]


def _timed_score(reranker: CeleryReranker, deadline_s: float, candidates: list[Candidate]) -> float:
    started = time.monotonic()
    reranker.score("flasche", candidates, deadline=started + deadline_s)
    return time.monotonic() - started


def measure_overshoot(redis_url: str, deadline_ms: int, rounds: int) -> float:
    """Worst time past the deadline, in ms, of ``rounds`` searches nobody serves."""
    queue = f"shelf-bench-{uuid.uuid4().hex[:8]}"
    reranker = _reranker(redis_url, queue, deadline_ms)
    worst = max(_timed_score(reranker, deadline_ms / 1000, _candidates(50)) for _ in range(rounds))
    _delete(redis_url, queue)
    reranker.close()
    return (worst - deadline_ms / 1000) * 1000


def measure_cpu(redis_url: str, deadline_ms: int, searches: int) -> float:
    """Percent of one core used while ``searches`` searches wait for results nobody sends."""
    queue = f"shelf-bench-{uuid.uuid4().hex[:8]}"
    reranker = _reranker(redis_url, queue, deadline_ms)
    _timed_score(reranker, 0.05, _candidates(1))  # connect before measuring
    start_barrier = threading.Barrier(searches + 1)

    def one() -> None:
        start_barrier.wait()
        _timed_score(reranker, deadline_ms / 1000, _candidates(50))

    threads = [threading.Thread(target=one) for _ in range(searches)]
    for thread in threads:
        thread.start()
    start_barrier.wait()
    cpu, wall = _cpu_s(), time.monotonic()
    for thread in threads:
        thread.join()
    used = (_cpu_s() - cpu) / (time.monotonic() - wall) * 100
    _delete(redis_url, queue)
    reranker.close()
    return used


def measure_hung_redis(deadline_ms: int, cap_s: float) -> float:
    """Seconds one search takes when its Redis is SIGSTOPped right after the tasks went out."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not on PATH")
    port = _free_port()
    server = subprocess.Popen(
        [binary, "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        import redis

        url = f"redis://127.0.0.1:{port}/0"
        for _ in range(100):
            try:
                redis.Redis.from_url(url).ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        reranker = _reranker(url, "shelf-bench-hung", deadline_ms)
        _timed_score(reranker, 0.05, _candidates(1))  # connections made before the hang
        took: list[float] = []
        thread = threading.Thread(
            target=lambda: took.append(_timed_score(reranker, deadline_ms / 1000, _candidates(50))),
            daemon=True,
        )
        thread.start()
        time.sleep(0.05)
        os.kill(server.pid, signal.SIGSTOP)
        thread.join(timeout=cap_s)
        os.kill(server.pid, signal.SIGCONT)
        thread.join(timeout=30)
        return took[0] if took and took[0] <= cap_s else cap_s
    finally:
        os.kill(server.pid, signal.SIGCONT)
        server.terminate()
        server.wait(timeout=10)


def _delete(redis_url: str, queue: str) -> None:
    import redis

    redis.Redis.from_url(redis_url).delete(queue)


def main(argv: list[str] | None = None) -> int:
    """Measure, print, end with the RESULT line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--deadline-ms", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--searches", type=int, default=10)
    parser.add_argument("--hang-cap-s", type=float, default=15.0)
    args = parser.parse_args(argv)

    print(hardware())
    overshoot = measure_overshoot(args.redis_url, args.deadline_ms, args.rounds)
    print(
        f"no worker: worst rerank stage {overshoot:+.0f} ms past a {args.deadline_ms} ms deadline"
    )
    cpu = measure_cpu(args.redis_url, args.deadline_ms, args.searches)
    print(f"{args.searches} searches waiting: {cpu:.1f}% of one core")
    hung = measure_hung_redis(args.deadline_ms, args.hang_cap_s)
    capped = " (cap reached)" if hung >= args.hang_cap_s else ""
    print(f"Redis SIGSTOPped mid-wait: the search took {hung:.2f} s{capped}")
    print(f"RESULT overshoot_ms={overshoot:.0f} cpu_core_pct={cpu:.1f} hung_redis_s={hung:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
