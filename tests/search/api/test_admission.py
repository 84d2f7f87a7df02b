"""Admission at the edge: a search the model cannot serve in time is refused at once, with
Shelf's JSON 503 and Retry-After, before it takes a server thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import anyio
import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.types import Receive, Scope, Send

from search.api.app import Components
from search.api.middleware.admission import SearchAdmission
from search.settings import Settings


def wait_until_idle(batcher: Any) -> None:
    """Until nothing is queued or running on the model (at most a minute)."""
    deadline = time.monotonic() + 60
    while batcher.requests_in_model and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.fixture
def held_model(components: Components) -> Iterator[threading.Event]:
    """The app's model with its forward pass held (until the event is set) and about two
    seconds of work at its measured rate queued behind it: it is behind by more than the
    admission budget (SHELF_API_MAX_QUEUE_WAIT_MS, 500 ms)."""
    model = components.reranker.model  # type: ignore[attr-defined]
    batcher = model.batcher
    wait_until_idle(batcher)
    release = threading.Event()
    real_predict = batcher._predict

    def held(batch: list[list[int]]) -> list[float]:
        release.wait(30)
        return real_predict(batch)

    batcher._predict = held
    rate = batcher.rate
    assert rate is not None  # measured by the warm-up at start-up
    model.submit("held", ["running"])
    time.sleep(0.05)
    model.submit("queued", ["queued work"] * int(2 * rate), time.monotonic() + 60)
    try:
        yield release
    finally:
        release.set()
        batcher._predict = real_predict
        wait_until_idle(batcher)


@pytest.mark.parametrize(
    "params",
    [{"q": "coffee"}, {"q": "kaffee", "locale": "de"}, {"q": "coffee", "rerank": "true"}],
)
def test_a_search_the_model_cannot_serve_in_time_gets_a_json_503_with_retry_after(
    client: TestClient, held_model: threading.Event, params: dict[str, str]
) -> None:
    sent = time.monotonic()
    response = client.get("/search", params=params)
    took = time.monotonic() - sent

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/json"
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["x-request-id"]  # inside the request-id middleware
    error = response.json()["error"]
    assert error["type"] == "Overloaded"
    assert "SHELF_API_MAX_QUEUE_WAIT_MS" in error["message"]
    # A search let in would wait for the held model until its 2 s deadline.
    assert took < 1.5


def test_a_search_without_reranking_is_admitted_while_the_model_is_behind(
    client: TestClient, held_model: threading.Event
) -> None:
    response = client.get("/search", params={"q": "coffee", "rerank": "false"})
    assert response.status_code == 200 and response.json()["reranked"] is False


def test_the_model_catching_up_admits_searches_again(
    client: TestClient, held_model: threading.Event, components: Components
) -> None:
    assert client.get("/search", params={"q": "coffee"}).status_code == 503
    held_model.set()
    wait_until_idle(components.reranker.model.batcher)  # type: ignore[attr-defined]
    assert client.get("/search", params={"q": "coffee"}).status_code == 200


def test_searches_over_the_in_flight_limit_get_503_at_once() -> None:
    release = anyio.Event()
    entered = 0

    async def slow_search(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal entered
        entered += 1
        if scope["path"] == "/search":
            await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    admission = SearchAdmission(slow_search, Settings(api_max_in_flight=2))
    app_state = SimpleNamespace(state=SimpleNamespace(), routes=[])

    async def call(path: str) -> httpx.Response:
        async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
            await admission({**scope, "app": app_state}, receive, send)

        transport = httpx.ASGITransport(app=asgi)
        async with httpx.AsyncClient(transport=transport, base_url="http://shelf") as client:
            return await client.get(path)

    async def scenario() -> list[int]:
        statuses: list[int] = []
        async with anyio.create_task_group() as tasks:

            async def record(path: str) -> None:
                statuses.append((await call(path)).status_code)

            tasks.start_soon(record, "/search?q=a")
            tasks.start_soon(record, "/search?q=b")
            await anyio.sleep(0.1)
            third = await call("/search?q=c")
            assert third.status_code == 503 and third.headers["retry-after"] == "1"
            assert "SHELF_API_MAX_IN_FLIGHT=2" in third.json()["error"]["message"]
            other = await call("/healthz")  # other paths are not counted
            statuses.append(other.status_code)
            release.set()
        return statuses

    assert sorted(anyio.run(scenario)) == [200, 200, 200]
    assert entered == 3 and admission.in_flight == 0
