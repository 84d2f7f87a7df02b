"""Load on the real HTTP API: open-loop GET /search at a fixed rate, warm cache and empty cache.

Starts `shelf serve` (uvicorn, one process) on a loopback port with the tiny test model, the
embedded index of the sample catalog and the in-process score cache. Sample queries (every
language) cycle at a fixed offered rate whatever the answers' latency (open loop: a slow answer
does not slow the arrivals, and latency counts from the scheduled send). First with a warm cache
(after one pass over the queries), then against a fresh server with the score cache off, so
every candidate is scored by the model.

Ends with ``RESULT warm_rps=<n> warm_p50_ms=<a> warm_p99_ms=<b> cold_p99_ms=<c>``.
Run: ``make bench`` or ``python -m bench.search_load [--rate 100 --duration 20]``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import Server, hardware, percentile, sample_server_env


async def _drive(
    base: str, queries: list[tuple[str, str]], rate: float, duration: float
) -> tuple[list[float], int, float]:
    """Send ``rate`` requests/s for ``duration`` s; latencies (ms) of the 200s, errors, wall s."""
    latencies: list[float] = []
    errors = 0
    total = int(rate * duration)
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def one(i: int, scheduled: float) -> None:
            nonlocal errors
            await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
            text, locale = queries[i % len(queries)]
            try:
                response = await client.get("/search", params={"q": text, "locale": locale})
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                latencies.append((time.perf_counter() - scheduled) * 1000)
            else:
                errors += 1

        start = time.perf_counter() + 0.2
        await asyncio.gather(*(one(i, start + i / rate) for i in range(total)))
        wall = time.perf_counter() - start
    return latencies, errors, wall


def _report(label: str, latencies: list[float], errors: int, wall: float) -> tuple[float, ...]:
    rps = len(latencies) / wall
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    print(
        f"{label:>6}: {len(latencies)} ok, {errors} errors in {wall:.1f} s = {rps:.1f} req/s; "
        f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(latencies):.1f} ms",
        flush=True,
    )
    return rps, p50, p99


def main(argv: list[str] | None = None) -> int:
    """Warm run, cold run, the RESULT line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0, help="requests per second (100)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per run (20)")
    args = parser.parse_args(argv)

    from catalog.samples import sample_queries

    print(hardware(), flush=True)
    queries = [(q["text"], q["locale"]) for q in sample_queries()]
    with tempfile.TemporaryDirectory(prefix="shelf-bench-") as tmp:
        root = Path(tmp)
        env = sample_server_env(root)
        print(f"{len(queries)} sample queries, {args.rate:.0f} req/s offered for "
              f"{args.duration:.0f} s per run, tiny model, embedded index", flush=True)  # fmt: skip

        server = Server(env, root / "warm.log")
        try:
            with httpx.Client(base_url=server.base) as client:
                for text, locale in queries:  # one pass: every (query, product) score cached
                    client.get("/search", params={"q": text, "locale": locale})
                one_by_one = []
                for text, locale in queries:
                    sent = time.perf_counter()
                    client.get("/search", params={"q": text, "locale": locale})
                    one_by_one.append((time.perf_counter() - sent) * 1000)
            print(f"warm, one at a time: p50 {percentile(one_by_one, 0.5):.1f} ms, "
                  f"p99 {percentile(one_by_one, 0.99):.1f} ms", flush=True)  # fmt: skip
            warm = _report("warm", *asyncio.run(_drive(server.base, queries, args.rate,
                                                       args.duration)))  # fmt: skip
        finally:
            server.stop()

        server = Server({**env, "SHELF_SCORE_CACHE": "off"}, root / "cold.log")
        try:
            cold = _report("cold", *asyncio.run(_drive(server.base, queries, args.rate,
                                                       args.duration)))  # fmt: skip
        finally:
            server.stop()
    print(
        f"RESULT warm_rps={warm[0]:.1f} warm_p50_ms={warm[1]:.1f} warm_p99_ms={warm[2]:.1f} "
        f"cold_p99_ms={cold[2]:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
