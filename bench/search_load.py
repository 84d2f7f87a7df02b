"""Overload on the real HTTP API: closed-loop capacity, then 3x that offered open-loop.

Starts `shelf serve` (uvicorn, one process) on a loopback port with the tiny test model, the
embedded index of the sample catalog (BM25 recall, no embedding model) and the score cache off,
so every search is scored by the model. Then:

1. idle latency: searches one at a time;
2. closed-loop capacity, on a first server whose admission budget is the whole deadline (so it
   sheds nothing the model could score in time): ``--clients`` (12) clients searching back to
   back; the capacity is the fully reranked answers per second (every candidate scored,
   ``degraded`` false). Everything after runs on a fresh server with Shelf's defaults;
3. open loop at ``--factor`` (3) times that for ``--duration`` (20) s: arrivals on a fixed
   schedule whatever the answers' latency, each latency counted from its *scheduled* send, on a
   fresh connection (``Connection: close``) from an asyncio client cheap enough not to be the
   bottleneck: its lag (actual send - scheduled send) is measured and printed;
4. recovery: from the end of the load, one probe search at a time until one is answered
   reranked in under twice the idle latency.

Prints served / shed (503) / timed out / failed, served latency p50/p99, 503 latency p50,
reranked answers per second against the capacity, the recovery time, pass or fail for each
acceptance point, and ends with ``RESULT capacity_rps=... offered_rps=... served=... shed=...
timed_out=... served_p99_ms=... shed_p50_ms=... reranked_rps=... reranked_ratio=...
recovery_s=... client_lag_p99_ms=... pass=...``.
Run: ``make bench`` or ``python -m bench.search_load [--factor 3 --duration 20]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from bench.common import Server, hardware, percentile, sample_server_env

DEADLINE_MS = 2000  # SHELF_RERANK_DEADLINE_MS of the server under test (its default)
HOST = "127.0.0.1"


@dataclass
class Answer:
    """One search: when it was due, when it went out, how it ended."""

    scheduled: float  # perf_counter instant it was due
    sent: float  # when the client actually opened its connection
    done: float = 0.0
    status: int = 0  # 0: no answer (timed out or connection failed)
    timed_out: bool = False
    reranked: bool = False  # every candidate scored by the model in time

    @property
    def latency_ms(self) -> float:
        """From the scheduled send to the answer (what a shopper would wait)."""
        return (self.done - self.scheduled) * 1000


async def fetch(port: int, target: str, timeout_s: float) -> tuple[int, bytes]:
    """One GET on a fresh connection: the status and the body (HTTP/1.1, Connection: close)."""
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        request = f"GET {target} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n"
        writer.write(request.encode())
        raw = await asyncio.wait_for(reader.read(), timeout_s)
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head[9:12]), body


async def search(port: int, target: str, scheduled: float, timeout_s: float) -> Answer:
    """``target`` searched as if sent at ``scheduled``; the answer classified."""
    answer = Answer(scheduled=scheduled, sent=time.perf_counter())
    try:
        answer.status, body = await asyncio.wait_for(fetch(port, target, timeout_s), timeout_s)
    except TimeoutError:
        answer.timed_out = True
    except OSError:
        pass
    answer.done = time.perf_counter()
    if answer.status == 200:
        found = json.loads(body)
        answer.reranked = bool(found["reranked"]) and not found["degraded"]
    return answer


def targets(queries: list[tuple[str, str]]) -> list[str]:
    """The sample queries as /search request targets."""
    return [f"/search?{urlencode({'q': text, 'locale': locale})}" for text, locale in queries]


async def idle_latency(port: int, paths: list[str]) -> float:
    """Median latency (ms) of reranked searches sent one at a time."""
    latencies = []
    for path in paths[:30]:
        answer = await search(port, path, time.perf_counter(), 30)
        if answer.reranked:
            latencies.append(answer.latency_ms)
    return percentile(latencies, 0.5)


async def closed_loop(port: int, paths: list[str], clients: int, seconds: float) -> list[Answer]:
    """``clients`` searching back to back for ``seconds``."""
    answers: list[Answer] = []
    end = time.perf_counter() + seconds

    async def client(c: int) -> None:
        n = c * 17
        while time.perf_counter() < end:
            answer = await search(port, paths[n % len(paths)], time.perf_counter(), 30)
            answers.append(answer)
            n += 1
            if answer.status != 200:
                await asyncio.sleep(0.05)  # a shed client backs off instead of spinning

    await asyncio.gather(*(client(c) for c in range(clients)))
    return answers


async def open_loop(
    port: int, paths: list[str], rate: float, seconds: float, timeout_s: float
) -> tuple[list[asyncio.Task[Answer]], float, float]:
    """Searches due every ``1 / rate`` s for ``seconds``: their tasks (answers still coming),
    the start and the end of the schedule (perf_counter)."""
    total = int(rate * seconds)
    start = time.perf_counter() + 0.2
    tasks = []
    for i in range(total):
        due = start + i / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        tasks.append(asyncio.create_task(search(port, paths[i % len(paths)], due, timeout_s)))
    return tasks, start, start + total / rate


async def recovery(port: int, probe: str, since: float, fast_ms: float, limit_s: float) -> float:
    """Seconds from ``since`` until a probe search is answered reranked within ``fast_ms``."""
    while time.perf_counter() - since < limit_s:
        answer = await search(port, probe, time.perf_counter(), 30)
        if answer.reranked and answer.latency_ms < fast_ms:
            return answer.done - since
        await asyncio.sleep(0.05)
    return float("inf")


def _p(values: list[float], q: float) -> float:
    return percentile(values, q) if values else float("nan")


def main(argv: list[str] | None = None) -> int:
    """Capacity, overload, recovery, the verdicts and the RESULT line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--factor", type=float, default=3.0, help="offered / capacity (3)")
    parser.add_argument("--duration", type=float, default=20.0, help="overload seconds (20)")
    parser.add_argument("--capacity-seconds", type=float, default=10.0, help="closed loop (10)")
    parser.add_argument("--clients", type=int, default=12, help="closed-loop clients (12)")
    parser.add_argument("--timeout", type=float, default=10.0, help="client timeout s (10)")
    args = parser.parse_args(argv)

    from catalog.samples import sample_queries

    print(hardware(), flush=True)
    paths = targets([(q["text"], q["locale"]) for q in sample_queries()])
    probe = "/search?" + urlencode({"q": "insulated steel water bottle", "locale": "en"})
    with tempfile.TemporaryDirectory(prefix="shelf-bench-") as tmp:
        root = Path(tmp)
        env = {
            **sample_server_env(root),
            "SHELF_SCORE_CACHE": "off",
            "SHELF_RERANK_DEADLINE_MS": str(DEADLINE_MS),
            # BM25 recall: no embedding model, so no background embedding pass competes with
            # the reranker for the CPU while it is measured.
            "SHELF_EMBED_MODEL": "none",
            "SHELF_RECALL_MODE": "bm25",
        }
        # Capacity on a server that sheds nothing the model could score by the deadline (its
        # admission budget is the whole deadline): the closed loop keeps the model busy.
        server = Server({**env, "SHELF_API_MAX_QUEUE_WAIT_MS": str(DEADLINE_MS)}, root / "a.log")
        try:
            capacity = asyncio.run(_capacity(server.port, paths, args))
        finally:
            server.stop()
        server = Server(env, root / "server.log")  # Shelf's defaults from here on
        try:
            result = asyncio.run(_overload(server.port, paths, probe, capacity, args))
        finally:
            stopping = time.perf_counter()
            server.stop()
            print(f"server stopped {time.perf_counter() - stopping:.1f} s after SIGTERM")
    return 0 if result else 1


async def _capacity(port: int, paths: list[str], args: argparse.Namespace) -> float:
    """Fully reranked answers per second of ``--clients`` clients searching back to back."""
    warm = await closed_loop(port, paths, args.clients, 2.0)  # the model's rate settles
    closed = await closed_loop(port, paths, args.clients, args.capacity_seconds)
    capacity = sum(a.reranked for a in closed) / args.capacity_seconds
    closed_ms = [a.latency_ms for a in closed if a.status == 200]
    print(
        f"closed loop, {args.clients} clients, {args.capacity_seconds:.0f} s: "
        f"{capacity:.1f} reranked answers/s ({len(closed)} answers, "
        f"{sum(a.status == 503 for a in closed)} shed; p50 {_p(closed_ms, 0.5):.0f} ms) "
        f"after {len(warm)} warm-up searches",
        flush=True,
    )
    return capacity


async def _overload(
    port: int, paths: list[str], probe: str, capacity: float, args: argparse.Namespace
) -> bool:
    idle_ms = await idle_latency(port, paths)
    print(f"idle: one search at a time, p50 {idle_ms:.1f} ms (cache off, every pair scored)")
    if capacity <= 0:
        print("RESULT capacity_rps=0.0 pass=false  (no search was fully reranked by its deadline)")
        return False
    rate = args.factor * capacity
    print(f"open loop: {rate:.1f} searches/s offered ({args.factor:g}x) for {args.duration:.0f} s")
    tasks, start, end = await open_loop(port, paths, rate, args.duration, args.timeout)
    # The probes start when the schedule ends, while the last answers are still coming.
    recovered_s = await recovery(port, probe, end, 2 * idle_ms, 30)
    answers = list(await asyncio.gather(*tasks))

    served = [a for a in answers if a.status == 200]
    shed = [a for a in answers if a.status == 503]
    timed_out = [a for a in answers if a.timed_out]
    failed = len(answers) - len(served) - len(shed) - len(timed_out)
    reranked = sum(a.reranked for a in served)
    window = max(a.done for a in answers) - start
    reranked_rps = reranked / window
    served_ms = [a.latency_ms for a in served]
    shed_ms = [a.latency_ms for a in shed]
    lag_ms = [(a.sent - a.scheduled) * 1000 for a in answers]

    print(
        f"  offered {len(answers)}: served {len(served)} ({reranked} fully reranked, "
        f"{len(served) - reranked} degraded), shed 503 {len(shed)}, timed out "
        f"{len(timed_out)} (> {args.timeout:.0f} s), failed {failed}"
    )
    print(
        f"  served latency p50 {_p(served_ms, 0.5):.0f} ms, p99 {_p(served_ms, 0.99):.0f} ms, "
        f"max {max(served_ms, default=float('nan')):.0f} ms; 503 latency p50 "
        f"{_p(shed_ms, 0.5):.1f} ms, p99 {_p(shed_ms, 0.99):.1f} ms"
    )
    print(
        f"  reranked answers/s {reranked_rps:.1f} over {window:.1f} s = "
        f"{reranked_rps / capacity:.0%} of closed-loop capacity {capacity:.1f}/s"
    )
    print(
        f"  client lag (actual - scheduled send): p50 {_p(lag_ms, 0.5):.1f} ms, "
        f"p99 {_p(lag_ms, 0.99):.1f} ms, max {max(lag_ms):.1f} ms"
        + ("  << the client fell behind its schedule" if _p(lag_ms, 0.99) > 50 else "")
    )
    print(f"  recovery: fast again (< {2 * idle_ms:.0f} ms) {recovered_s:.2f} s after the load")

    checks = {
        f"served p99 <= deadline + 0.5 s ({DEADLINE_MS + 500} ms)": _p(served_ms, 0.99)
        <= DEADLINE_MS + 500,
        "503 p50 < 100 ms": _p(shed_ms, 0.5) < 100 if shed_ms else True,
        "reranked answers/s >= 70% of capacity": reranked_rps >= 0.7 * capacity,
        "fast again within 2 s": recovered_s <= 2.0,
    }
    for name, ok in checks.items():
        print(f"  {'PASS' if ok else 'FAIL'}: {name}")
    passed = all(checks.values())
    print(
        f"RESULT capacity_rps={capacity:.1f} offered_rps={rate:.1f} served={len(served)} "
        f"shed={len(shed)} timed_out={len(timed_out)} failed={failed} "
        f"served_p50_ms={_p(served_ms, 0.5):.0f} served_p99_ms={_p(served_ms, 0.99):.0f} "
        f"shed_p50_ms={_p(shed_ms, 0.5):.1f} reranked_rps={reranked_rps:.1f} "
        f"reranked_ratio={reranked_rps / capacity:.2f} recovery_s={recovered_s:.2f} "
        f"client_lag_p99_ms={_p(lag_ms, 0.99):.1f} pass={str(passed).lower()}",
        flush=True,
    )
    return passed


if __name__ == "__main__":
    sys.exit(main())
