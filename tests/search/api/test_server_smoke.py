"""A real `shelf serve` (uvicorn) on a loopback port: search in every locale, events round trip."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from search.cli import demo_queries
from tests.search.api.conftest import API_KEY


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(
    api_data_dir: Path, test_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    port = _free_port()
    out = tmp_path_factory.mktemp("server")
    env = dict(
        os.environ,
        SHELF_DATA_DIR=str(api_data_dir),
        SHELF_RERANK_MODEL=str(test_model_dir),
        SHELF_RERANK_DEVICE="cpu",
        SHELF_SCORE_CACHE="memory",
        SHELF_API_KEY=API_KEY,
        SHELF_EVENTS_URL=f"sqlite:///{out / 'events.db'}",
        TOKENIZERS_PARALLELISM="false",
    )
    log_path = out / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "search.cli", "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            pytest.fail(f"shelf serve exited:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"shelf serve not ready in 60 s:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.2)
    yield base
    process.terminate()
    process.wait(timeout=20)
    # One JSON log line per request, each with its request id.
    assert '"request_id"' in log_path.read_text()


@pytest.mark.slow
@pytest.mark.parametrize(("query", "locale"), demo_queries())
def test_the_real_server_searches_each_locale(server: str, query: str, locale: str) -> None:
    response = httpx.get(f"{server}/search", params={"q": query, "locale": locale, "k": 3})
    assert response.status_code == 200, response.text
    assert {item["locale"] for item in response.json()["items"]} == {locale}


@pytest.mark.slow
def test_the_real_server_stores_an_event_of_a_search(server: str) -> None:
    search = httpx.get(f"{server}/search", params={"q": "coffee", "locale": "en"}).json()
    item = search["items"][0]
    event = {
        "event_id": uuid.uuid4().hex,
        "type": "click",
        "request_id": search["request_id"],
        "product_id": item["product_id"],
        "position": item["position"],
    }
    headers = {"X-API-Key": API_KEY}
    first = httpx.post(f"{server}/events", json=event, headers=headers)
    again = httpx.post(f"{server}/events", json=event, headers=headers)
    assert first.json()["stored"] == 1 and again.json()["duplicates"] == 1
    assert httpx.post(f"{server}/events", json=event).status_code == 401


@pytest.mark.slow
def test_the_real_server_reranks_tei_style(server: str) -> None:
    response = httpx.post(f"{server}/rerank", json={"query": "coffee", "texts": ["a", "b"]})
    assert response.status_code == 200 and len(response.json()) == 2
