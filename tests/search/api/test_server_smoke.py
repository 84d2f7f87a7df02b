"""A real `shelf serve` (uvicorn) on a loopback port: search in every locale, events round trip."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.common import Server
from search.demo import demo_queries
from tests.search.api.conftest import API_KEY, server_env
from tests.search.api.rules_served import RULES_REFRESH_S, check_cli_pin_is_served_and_expires


@pytest.fixture(scope="module")
def served(
    api_data_dir: Path, test_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, dict[str, str]]]:
    """The server's base URL and environment (the CLI run with it shares its store)."""
    out = tmp_path_factory.mktemp("server")
    env = server_env(
        api_data_dir, test_model_dir, SHELF_EVENTS_URL=f"sqlite:///{out / 'events.db'}",
        SHELF_RULES_REFRESH_S=str(RULES_REFRESH_S),
    )  # fmt: skip
    server = Server(env, out / "server.log", loglevel="INFO", ready_timeout_s=60)
    yield server.base, env
    server.stop()
    # One JSON log line per request, each with its request id.
    assert '"request_id"' in server.log_tail(chars=10**9)


@pytest.fixture(scope="module")
def server(served: tuple[str, dict[str, str]]) -> str:
    return served[0]


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


@pytest.mark.slow
def test_a_pin_added_from_the_cli_is_served_within_the_refresh_interval_and_expires(
    served: tuple[str, dict[str, str]],
) -> None:
    check_cli_pin_is_served_and_expires(*served)
