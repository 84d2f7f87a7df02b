"""Issue 27's acceptance for events: the app on a real uvicorn, on a PostgreSQL of its own, under
about 5 searches/s and 50 events/s; the PostgreSQL is stopped for 10 s and started again.
Afterwards every answered search's impression and every acknowledged event is stored, and every
event is joined to its search. No event is answered 422."""

from __future__ import annotations

import contextlib
import random
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
import uvicorn

from catalog.samples import sample_queries
from search.api.app import create_app
from search.events.log import PostgresEventLog
from search.settings import Settings
from tests.search.api.conftest import API_KEY
from tests.stores import PrivatePostgres

QUERIES = [(q["text"], q["locale"]) for q in sample_queries()]
LOAD_S = 15.0
OUTAGE = (2.0, 12.0)  # seconds into the load: PostgreSQL stopped, then started
TICK_S = 0.2  # each tick: one search and a batch of 10 events (5 searches/s, 50 events/s)
DRAIN_TIMEOUT_S = 30.0


class Load:
    """Searches and events at a steady rate; keeps what the server answered and acknowledged."""

    def __init__(self, base: str) -> None:
        self.client = httpx.Client(base_url=base, timeout=30, headers={"X-API-Key": API_KEY})
        self.rng = random.Random(27)
        self.searches: dict[str, dict] = {}  # request id -> an item shown
        self.acknowledged: dict[str, str] = {}  # event id -> its search's request id
        self.statuses: list[int] = []

    def tick(self, n: int) -> None:
        text, locale = QUERIES[n % len(QUERIES)]
        params = {"q": text, "locale": locale, "user_id": f"u{n}", "rerank": "0"}
        answer = self.client.get("/search", params=params)
        if answer.status_code == 200 and answer.json()["items"]:
            self.searches[answer.json()["request_id"]] = answer.json()["items"][0]
        if not self.searches:
            return
        ids = self.rng.choices(list(self.searches)[-25:], k=10)  # recent searches, as shoppers
        batch = [
            {"event_id": uuid.uuid4().hex, "type": self.rng.choice(["click", "purchase"]),
             "request_id": rid, "product_id": self.searches[rid]["product_id"],
             "position": self.searches[rid]["position"]}
            for rid in ids
        ]  # fmt: skip
        answer = self.client.post("/events", json=batch)
        self.statuses.append(answer.status_code)
        if answer.status_code in (200, 202) and answer.json()["rejected_count"] == 0:
            self.acknowledged.update((e["event_id"], e["request_id"]) for e in batch)


@contextlib.contextmanager
def _served(settings: Settings) -> Iterator[str]:
    """The app on a real uvicorn on a loopback port, served from a thread of this process (a
    `shelf serve` subprocess would spend most of the test importing and loading the model)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_config=None))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the uvicorn server did not start within 60 s")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@pytest.mark.slow
def test_a_10_s_postgres_outage_under_load_loses_no_impression_and_no_event(
    api_settings: Settings, tmp_path: Path, private_postgres: PrivatePostgres
) -> None:
    prefix = f"outage{uuid.uuid4().hex[:8]}_"
    settings = api_settings.model_copy(
        update={
            "events_url": private_postgres.url,
            "events_table_prefix": prefix,
            "spool_path": tmp_path / "spool.db",
            "spool_backoff_max_s": 1.0,
        }
    )
    with _served(settings) as base:
        load = Load(base)
        try:
            outage = threading.Thread(target=_outage, args=(private_postgres,))
            started = time.monotonic()
            n = 0
            while time.monotonic() - started < LOAD_S:
                if time.monotonic() - started >= OUTAGE[0] and outage.ident is None:
                    outage.start()
                load.tick(n)
                n += 1
                time.sleep(max(0.0, started + n * TICK_S - time.monotonic()))
            outage.join(timeout=30)
            _wait_until_drained(load.client)
        finally:
            load.client.close()

    assert 422 not in load.statuses and len(load.searches) > 40, load.statuses
    assert 202 in load.statuses  # the outage was met: events were spooled, answered pending
    store = PostgresEventLog(private_postgres.url, table_prefix=prefix)
    try:
        assert store.known_request_ids(load.searches) == set(load.searches)
        events = store.tables.events
        with store.engine.connect() as conn:
            stored = dict(conn.execute(sa.select(events.c.event_id, events.c.request_id)).all())
        assert set(load.acknowledged) <= set(stored)
        assert len(load.acknowledged) > 300
        # Every event joins its search (its request id has a stored impression).
        assert store.known_request_ids(set(stored.values())) == set(stored.values())
    finally:
        store.drop_tables()
        store.close()


def _outage(server: PrivatePostgres) -> None:
    server.stop()
    time.sleep(OUTAGE[1] - OUTAGE[0])
    server.start()


def _wait_until_drained(client: httpx.Client) -> None:
    """Until the spool is empty twice, a second apart (the last impressions' linger past)."""
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    empty_since: float | None = None
    while time.monotonic() < deadline:
        check = client.get("/readyz").json()["checks"]["spool"]
        if not check["detail"].startswith("empty"):
            empty_since = None
        elif empty_since is None:
            empty_since = time.monotonic()
        elif time.monotonic() - empty_since >= 1.0:
            return
        time.sleep(0.2)
    raise AssertionError(f"the spool was not drained in {DRAIN_TIMEOUT_S} s: {check}")
