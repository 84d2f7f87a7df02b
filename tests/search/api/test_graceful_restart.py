"""A real `shelf serve` on PostgreSQL stopped with SIGTERM mid-burst loses nothing it
acknowledged: every answered search's impression and every acknowledged event is stored."""

from __future__ import annotations

import signal
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from bench.common import Server
from catalog.samples import sample_queries
from tests.search.api.conftest import API_KEY, server_env
from tests.stores import POSTGRES_URL, postgres_event_log

QUERIES = [(q["text"], q["locale"]) for q in sample_queries()]


class Load:
    """Searches and event batches from a few threads until the server stops answering; keeps
    what the server acknowledged."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.searches: dict[str, dict] = {}  # request id -> an item shown
        self.events: set[str] = set()
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def search_until_refused(self, worker: int) -> None:
        with httpx.Client(base_url=self.base, timeout=30) as client:
            n = 0
            while not self.stop.is_set():
                text, locale = QUERIES[(worker * 31 + n) % len(QUERIES)]
                # BM25 order: fast answers, so the burst is a burst (the model's cache is cold).
                params = {"q": text, "locale": locale, "user_id": f"u{worker}-{n}", "rerank": "0"}
                n += 1
                try:
                    answer = client.get("/search", params=params)
                except httpx.HTTPError:
                    return  # the server has closed: nothing more is acknowledged
                if answer.status_code == 200 and answer.json()["items"]:
                    with self.lock:
                        self.searches[answer.json()["request_id"]] = answer.json()["items"][0]

    def post_events_until_refused(self) -> None:
        with httpx.Client(base_url=self.base, timeout=30) as client:
            while not self.stop.is_set():
                with self.lock:
                    batch = [
                        {"event_id": uuid.uuid4().hex, "type": "click", "request_id": rid,
                         "product_id": item["product_id"], "position": item["position"]}
                        for rid, item in list(self.searches.items())[-20:]
                    ]  # fmt: skip
                if not batch:
                    time.sleep(0.01)
                    continue
                try:
                    answer = client.post("/events", json=batch, headers={"X-API-Key": API_KEY})
                except httpx.HTTPError:
                    return
                if answer.status_code == 200 and answer.json()["rejected_count"] == 0:
                    self.events.update(e["event_id"] for e in batch)


@pytest.mark.slow
def test_sigterm_mid_burst_loses_no_acknowledged_search_or_event(
    api_data_dir: Path, test_model_dir: Path, tmp_path: Path
) -> None:
    prefix = f"restart{uuid.uuid4().hex[:8]}_"
    store = postgres_event_log(prefix)
    env = server_env(
        api_data_dir,
        test_model_dir,
        SHELF_EVENTS_URL=POSTGRES_URL,
        SHELF_EVENTS_TABLE_PREFIX=prefix,
        # Impressions wait in the queue up to 1 s: at SIGTERM some surely are still queued, and
        # only the shutdown's drain writes them.
        SHELF_IMPRESSION_LINGER_MS="1000",
    )
    server: Server | None = None
    try:
        server = Server(env, tmp_path / "server.log", loglevel="INFO", ready_timeout_s=60)
        process = server.process
        load = Load(server.base)
        threads = [threading.Thread(target=load.search_until_refused, args=(w,)) for w in range(4)]
        threads.append(threading.Thread(target=load.post_events_until_refused))
        for thread in threads:
            thread.start()
        time.sleep(4)  # a burst in flight: searches answered, impressions queued, events posted
        process.send_signal(signal.SIGTERM)
        # uvicorn shuts down (lifespan included), then re-raises the signal it caught.
        assert process.wait(timeout=60) in (0, -signal.SIGTERM), server.log_tail()
        assert "Application shutdown complete" in server.log_tail(chars=10**9)
        load.stop.set()
        for thread in threads:
            thread.join(timeout=30)

        assert len(load.searches) > 50 and len(load.events) > 20
        assert store.known_request_ids(load.searches) == set(load.searches)
        events = store.tables.events
        with store.engine.connect() as conn:
            stored = {row[0] for row in conn.execute(sa.select(events.c.event_id))}
        assert load.events <= stored
    finally:
        if server is not None:
            server.stop()
        store.drop_tables()
        store.close()
