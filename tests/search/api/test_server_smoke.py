"""A real `shelf serve` (uvicorn) on a loopback port: search in every locale, events round trip,
and a synonym that another process (the CLI) adds is picked up within its refresh interval."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from bench.common import Server
from search.cli.demo import demo_queries
from search.events.log import SqliteEventLog
from tests.search.api.conftest import API_KEY, auth, server_env
from tests.search.api.rules_served import RULES_REFRESH_S, check_cli_pin_is_served_and_expires

SYNONYMS_REFRESH_S = 1.0
MARGIN_S = 3.0  # a loaded shared machine: the reload itself, the poll's own period


@pytest.fixture(scope="module")
def env(
    api_data_dir: Path, test_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    out = tmp_path_factory.mktemp("server-store")
    return server_env(
        api_data_dir,
        test_model_dir,
        SHELF_EVENTS_URL=f"sqlite:///{out / 'events.db'}",
        SHELF_SYNONYMS_REFRESH_S=str(SYNONYMS_REFRESH_S),
        SHELF_RULES_REFRESH_S=str(RULES_REFRESH_S),
    )


@pytest.fixture(scope="module")
def server(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    out = tmp_path_factory.mktemp("server")
    server = Server(env, out / "server.log", loglevel="INFO", ready_timeout_s=60)
    yield server.base
    server.stop()
    # One JSON log line per request, each with its request id.
    assert '"request_id"' in server.log_tail(chars=10**9)


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


# Synonyms: only the rule can make QUERY match PRODUCT (BM25 alone: no neighbour by meaning).
QUERY = "zzyzx"
RULE = f"{QUERY} => gooseneck"
PRODUCT = "en-us-0013"  # Maple & Main Electric Gooseneck Kettle with Temperature Control


def _bm25_found(server: str) -> list[str]:
    params = {"q": QUERY, "locale": "en-US", "recall": "bm25", "k": 10}
    response = httpx.get(f"{server}/search", params=params)
    assert response.status_code == 200, response.text
    return [item["product_id"] for item in response.json()["items"]]


@pytest.fixture(scope="module")
def synonym_added_at(server: str, env: dict[str, str]) -> float:
    """Add the rule with the CLI, in a process of its own; when the store had it."""
    assert PRODUCT not in _bm25_found(server)  # before: nothing matches the query
    done = subprocess.run(
        [sys.executable, "-m", "search.cli.main", "synonyms", "add", RULE, "--json"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["created"] is True
    return time.monotonic()


def _waited(since: float, bound_s: float, check: Callable[[], bool]) -> float:
    """Seconds from ``since`` until ``check()`` holds, polled every 0.1 s; fails past
    ``bound_s``."""
    while time.monotonic() - since <= bound_s:
        if check():
            return time.monotonic() - since
        time.sleep(0.1)
    raise AssertionError(f"not within {bound_s} s")


@pytest.mark.slow
def test_the_real_server_serves_a_synonym_the_cli_added(
    server: str, synonym_added_at: float
) -> None:
    def served() -> bool:
        listed = httpx.get(f"{server}/synonyms", headers=auth()).json()["synonyms"]
        return any(rule["rule"] == RULE and rule["served"] for rule in listed)

    _waited(synonym_added_at, SYNONYMS_REFRESH_S + MARGIN_S, served)


@pytest.mark.slow
def test_the_real_server_finds_a_product_through_a_synonym_the_cli_added(
    server: str, synonym_added_at: float
) -> None:
    def found() -> bool:
        return PRODUCT in _bm25_found(server)

    _waited(synonym_added_at, SYNONYMS_REFRESH_S + MARGIN_S, found)


@pytest.mark.slow
def test_a_pin_added_from_the_cli_is_served_within_the_refresh_interval_and_expires(
    server: str, env: dict[str, str]
) -> None:
    check_cli_pin_is_served_and_expires(server, env)


@pytest.mark.slow
def test_the_real_server_names_the_stages_that_ranked_each_answer(server: str) -> None:
    # The server runs Shelf's default learned ranker (its environment is built before any
    # test's own): it orders after the cross-encoder, whose score is one of its features.
    answer = httpx.get(f"{server}/search", params={"q": "coffee", "k": 3}).json()
    assert answer["ranker"].startswith("default@")
    assert answer["stages"] == [
        "recall:bm25", "recall:dense", "fuse", f"rerank:{answer['model']}",
        f"ranker:{answer['ranker']}",
    ]  # fmt: skip
    assert answer["notice"] is None
    plain = httpx.get(f"{server}/search", params={"q": "coffee", "rerank": "false"}).json()
    assert plain["stages"] == ["recall:bm25", "recall:dense", "fuse", f"ranker:{answer['ranker']}"]
    assert plain["notice"] is None


@pytest.fixture(scope="module")
def offline_server(
    api_data_dir: Path, test_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """`shelf serve` where the configured cross-encoder cannot be had: a hub id, offline."""
    out = tmp_path_factory.mktemp("offline-server")
    env = server_env(
        api_data_dir,
        test_model_dir,
        HF_HUB_OFFLINE="1",
        SHELF_EVENTS_URL=f"sqlite:///{out / 'events.db'}",
    )
    env["SHELF_RERANK_MODEL"] = "shelf-test/not-downloaded-reranker"
    server = Server(env, out / "server.log", ready_timeout_s=60)
    yield server
    server.stop()


@pytest.mark.slow
def test_an_offline_server_serves_searches_without_the_cross_encoder_and_says_so_once(
    offline_server: Server,
) -> None:
    base = offline_server.base
    answer = httpx.get(f"{base}/search", params={"q": "coffee", "k": 3}).json()
    assert answer["items"] and answer["model"] is None and not answer["reranked"]
    # Ranked by the learned ranker alone (the default: the server's environment is built
    # before any test's own).
    assert answer["ranker"].startswith("default@")
    assert answer["stages"] == ["recall:bm25", "recall:dense", "fuse", f"ranker:{answer['ranker']}"]
    assert "not reranked" in answer["notice"]
    ready = httpx.get(f"{base}/readyz").json()
    assert ready["ready"] and not ready["checks"]["model"]["required"]
    rerank = httpx.post(f"{base}/rerank", json={"query": "coffee", "texts": ["a", "b"]})
    assert rerank.status_code == 503 and "huggingface-cli download" in rerank.text
    log = offline_server.log_tail(chars=10**9)
    assert log.count("searching without the cross-encoder") == 1, log[-3000:]
    assert "huggingface-cli download shelf-test/not-downloaded-reranker" in log


@pytest.mark.slow
def test_the_real_server_stores_the_peer_network_not_a_forwarded_one(
    server: str, env: dict[str, str]
) -> None:
    """``shelf serve`` trusts no proxy unless told (uvicorn's default would trust loopback): a
    client naming another address in X-Forwarded-For is counted from its own network."""
    forged = {"X-Forwarded-For": "198.51.100.7"}
    answer = httpx.get(f"{server}/search", params={"q": "coffee", "lang": "en"}, headers=forged)
    request_id = answer.json()["request_id"]
    store = SqliteEventLog(env["SHELF_EVENTS_URL"])
    try:
        searches = store.tables.searches
        query = sa.select(searches.c.client_network).where(searches.c.request_id == request_id)
        deadline = time.monotonic() + 30
        while (row := _first(store, query)) is None and time.monotonic() < deadline:
            time.sleep(0.05)  # the impression is written off the request path
        assert row == ("127.0.0.0/24",)
    finally:
        store.close()


def _first(store: SqliteEventLog, query: sa.Select) -> tuple[str | None] | None:
    with store.engine.connect() as conn:
        row = conn.execute(query).first()
    return None if row is None else (row[0],)
