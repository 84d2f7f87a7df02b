"""Warm start and clean stop: nothing loads lazily after /readyz says ready, and SIGTERM under
overload stops the server within its graceful timeout."""

from __future__ import annotations

import asyncio
import gc
import signal
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bench.common import Server
from bench.search_load import open_loop, targets
from catalog import language
from catalog.samples import sample_queries
from search.api.app import create_app
from search.settings import Settings
from tests.search.api.conftest import server_env

QUERIES = [(q["text"], q["locale"]) for q in sample_queries()]


@pytest.mark.slow
def test_the_language_detector_is_loaded_before_readyz_says_ready(api_settings: Settings) -> None:
    language._detector.cache_clear()  # as in a fresh process
    with TestClient(create_app(api_settings)) as client:
        assert client.get("/readyz").status_code == 200
        assert language._detector.cache_info().currsize == 1
        misses = language._detector.cache_info().misses
        answer = client.get("/search", params={"q": "botella térmica de acero inoxidable"})
        assert answer.status_code == 200 and answer.json()["language_detected"]
        assert language._detector.cache_info().misses == misses  # nothing loaded on the way
        # What start-up built (models, index, tokenisers) is frozen: a full collection never
        # walks it again while searches wait (it paused one for 0.4 s).
        assert gc.get_freeze_count() > 100_000
    assert gc.get_freeze_count() == 0  # unfrozen at shutdown, so it can be collected


@pytest.mark.slow
def test_sigterm_under_overload_stops_within_the_graceful_timeout(
    api_data_dir: Path, test_model_dir: Path, tmp_path: Path
) -> None:
    graceful_s = 3
    env = {
        **server_env(
            api_data_dir,
            test_model_dir,
            SHELF_EVENTS_URL=f"sqlite:///{tmp_path / 'events.db'}",
            SHELF_SERVE_TIMEOUT_GRACEFUL_S=str(graceful_s),
        ),
        "SHELF_SCORE_CACHE": "off",  # every search needs the model: an overload
    }
    server = Server(env, tmp_path / "server.log", loglevel="INFO", ready_timeout_s=120)
    statuses: list[int] = []

    async def overload() -> None:  # open loop: arrivals keep coming whatever the answers
        tasks, _, _ = await open_loop(server.port, targets(QUERIES), 150.0, 5.0, 60.0)
        statuses.extend(answer.status for answer in await asyncio.gather(*tasks))

    load = threading.Thread(target=asyncio.run, args=(overload(),))
    try:
        load.start()
        time.sleep(3)  # searches in flight (450 sent at 150/s), queued for the model, arriving
        server.process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        code = server.process.wait(timeout=90)
        took = time.monotonic() - signalled
        load.join(timeout=90)
        log = server.log_tail(chars=10**9)
        assert code in (0, -signal.SIGTERM), log[-3000:]
        assert "Application shutdown complete" in log
        # The searches being answered end by their deadline (2 s) or the graceful timeout;
        # queued pairs are dropped; the running batch is one forward pass.
        assert took < graceful_s + 4, f"stopped {took:.1f} s after SIGTERM"
        assert 503 in statuses and 200 in statuses  # it was overloaded, and served
    finally:
        server.stop()
