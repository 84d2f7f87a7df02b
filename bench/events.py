"""Sustained POST /events into PostgreSQL through the real API: batched vs one event per request.

Starts `shelf serve` (uvicorn, one process) with SHELF_EVENTS_URL on PostgreSQL and tables of its
own (dropped after), makes searches to get request ids, then sends click events from
``--clients`` concurrent clients: first one event per request, then ``--batch`` events per
request, each for ``--seconds``. Every acknowledged event must be stored: the stored rows are
counted in PostgreSQL at the end (count in = count stored), and the exit status is 1 if not.

Ends with ``RESULT events_per_s=<n> sent=<a> stored=<b>`` (the batched run's rate; sent and
stored over both runs). Run: ``make bench`` or ``python -m bench.events [--seconds 10]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx

from bench.common import Server, hardware, sample_server_env

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
API_KEY = "bench-events-key-0123456789"


def _send(
    base: str, searches: list[dict], batch: int, clients: int, seconds: float
) -> tuple[int, float]:
    """Events acknowledged (stored or duplicate) by ``clients`` threads sending for
    ``seconds``, and the wall time until the last answer."""
    acked = [0] * clients
    started = time.monotonic()
    stop = started + seconds

    def client_loop(worker: int) -> None:
        with httpx.Client(base_url=base, timeout=60, headers={"X-API-Key": API_KEY}) as client:
            n = 0
            while time.monotonic() < stop:
                events = []
                for _ in range(batch):
                    search = searches[(worker * 7919 + n) % len(searches)]
                    n += 1
                    events.append({"event_id": uuid.uuid4().hex, "type": "click", **search})
                answer = client.post("/events", json=events if batch > 1 else events[0])
                if answer.status_code != 200:
                    raise SystemExit(f"POST /events answered {answer.status_code}: {answer.text}")
                body = answer.json()
                acked[worker] += body["stored"] + body["duplicates"]

    threads = [threading.Thread(target=client_loop, args=(w,)) for w in range(clients)]
    progress = threading.Thread(target=_progress, args=(acked, stop), daemon=True)
    for thread in [*threads, progress]:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(acked), time.monotonic() - started


def _progress(acked: list[int], stop: float) -> None:
    while time.monotonic() < stop:
        time.sleep(1)
        print(f"  {sum(acked)} events acknowledged", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """One-by-one run, batched run, stored count, the RESULT line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--batch", type=int, default=500, help="events per request (500)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (4)")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per run (10)")
    parser.add_argument("--searches", type=int, default=200, help="searches to refer to (200)")
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    args = parser.parse_args(argv)

    from catalog.samples import sample_queries
    from search.events.log import PostgresEventLog

    print(hardware(), flush=True)
    prefix = f"bench{uuid.uuid4().hex[:8]}_"
    store = PostgresEventLog(args.postgres_url, table_prefix=prefix)
    with tempfile.TemporaryDirectory(prefix="shelf-bench-") as tmp:
        root = Path(tmp)
        env = sample_server_env(
            root,
            SHELF_API_KEY=API_KEY,
            SHELF_EVENTS_URL=args.postgres_url,
            SHELF_EVENTS_TABLE_PREFIX=prefix,
        )
        server = Server(env, root / "server.log")
        try:
            queries = [(q["text"], q["locale"]) for q in sample_queries()]
            searches = []
            with httpx.Client(base_url=server.base, timeout=60) as client:
                for n in range(args.searches):
                    text, locale = queries[n % len(queries)]
                    params = {"q": text, "locale": locale, "rerank": "false"}
                    answer = client.get("/search", params=params).json()
                    if answer["items"]:
                        item = answer["items"][0]
                        searches.append({"request_id": answer["request_id"], "position": 1,
                                         "product_id": item["product_id"]})  # fmt: skip
            print(f"{len(searches)} searches to refer to; {args.clients} clients, "
                  f"{args.seconds:.0f} s per run, PostgreSQL", flush=True)  # fmt: skip
            sent_single, wall = _send(server.base, searches, 1, args.clients, args.seconds)
            single_rate = sent_single / wall
            print(f"one per request: {sent_single} events, {single_rate:.0f} events/s", flush=True)
            sent_batched, wall = _send(
                server.base, searches, args.batch, args.clients, args.seconds
            )
            rate = sent_batched / wall
            print(f"{args.batch} per request: {sent_batched} events, {rate:.0f} events/s; "
                  f"batched / one per request = {rate / single_rate:.1f}x", flush=True)  # fmt: skip
        finally:
            server.stop()
    sent = sent_single + sent_batched
    stored = store.count("events")
    store.drop_tables()
    store.close()
    print(f"RESULT events_per_s={rate:.0f} sent={sent} stored={stored}")
    return 0 if stored == sent else 1


if __name__ == "__main__":
    sys.exit(main())
