"""Analytics queries over a large event log, SQLite and PostgreSQL side by side.

Writes ``--searches`` first-page searches (``--queries`` distinct queries with a Zipf-like
popularity, ``--users`` users, 5% matching nothing, a click on a third of the rest and a purchase
on a tenth of those) into a SQLite file and into PostgreSQL (tables of its own, dropped after),
then times each analytics answer (best of ``--repeat``). Ends with ``RESULT
sqlite_top_ms=<a> postgres_top_ms=<b> ratio=<b/a> searches=<n>``.
Run: ``python -m bench.analytics [--searches 200000]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import hardware
from search.analytics.reports import daily, one_query, query_list
from search.analytics.window import make_window
from search.events.log import Event, Impression, PostgresEventLog, SqliteEventLog

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
START = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)


def _fill(log: Any, searches: int, queries: int, users: int, seed: int) -> None:
    rng = random.Random(seed)
    weights = [1 / (rank + 1) for rank in range(queries)]
    texts = rng.choices(range(queries), weights=weights, k=searches)
    batch: list[Impression] = []
    events: list[Event] = []
    for n, text in enumerate(texts):
        request_id = f"r{n}"
        zero = rng.random() < 0.05
        ts = START + dt.timedelta(seconds=rng.randrange(30 * 86400))
        shown = () if zero else tuple(f"p{i}" for i in range(10))
        user = rng.randrange(users)
        network = f"10.{user >> 8 & 255}.{user & 255}.0/24"  # one per user: what k counts
        batch.append(Impression(request_id, f"query {text}", rng.choice(["en", "de"]), "none",
                                shown, user_id=f"u{user}", ts=ts, client_network=network,
                                result_count=0 if zero else 40))  # fmt: skip
        if not zero and rng.random() < 1 / 3:
            position = min(10, 1 + int(rng.expovariate(0.5)))
            events.append(Event(f"c{n}", "click", request_id, "p0", position, ts=ts))
            if rng.random() < 0.1:
                events.append(Event(f"b{n}", "purchase", request_id, "p0", position, ts=ts))
        if len(batch) == 5000:
            log.record_impressions(batch)
            log.record_events(events)
            batch, events = [], []
            print(f"  written {n + 1}/{searches}", end="\r", flush=True)
    log.record_impressions(batch)
    log.record_events(events)
    print()


def _best_ms(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return min(times)


def _measure(log: Any, repeat: int) -> dict[str, float]:
    window = make_window("en", START, START + dt.timedelta(days=30))
    answers: dict[str, Callable[[], object]] = {
        "top": lambda: query_list(log, window, "top", min_users=5, limit=50),
        "zero": lambda: query_list(log, window, "zero", min_users=5, limit=50),
        "no_clicks": lambda: query_list(log, window, "no-clicks", min_users=5, limit=50),
        "query": lambda: one_query(log, window, "query 0", min_users=5),
        "daily": lambda: daily(log, window),
    }
    return {name: _best_ms(run, repeat) for name, run in answers.items()}


def main() -> None:
    """Fill both stores, time every answer, print the table and the RESULT line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--searches", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=5_000)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(hardware())
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        stores = {
            "sqlite": SqliteEventLog(f"sqlite:///{Path(tmp) / 'events.db'}"),
            "postgres": PostgresEventLog(POSTGRES_URL, table_prefix=f"b{uuid.uuid4().hex[:8]}_"),
        }
        for name, log in stores.items():
            try:
                print(f"{name}: writing {args.searches} searches")
                _fill(log, args.searches, args.queries, args.users, seed=7)
                results[name] = _measure(log, args.repeat)
                print(f"{name}: " + ", ".join(f"{k} {v:.0f} ms" for k, v in results[name].items()))
            finally:
                if name == "postgres":
                    log.drop_tables()
                log.close()
    sqlite_ms, postgres_ms = results["sqlite"]["top"], results["postgres"]["top"]
    print(
        f"RESULT sqlite_top_ms={sqlite_ms:.0f} postgres_top_ms={postgres_ms:.0f} "
        f"ratio={postgres_ms / sqlite_ms:.2f} searches={args.searches}"
    )


if __name__ == "__main__":
    main()
