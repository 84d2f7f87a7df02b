"""Events around an outage, in process: a PostgreSQL of the test's own stopped and started, and
a full disk (a tiny tmpfs holding the spool and a SQLite event store)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from search.api.app import Components, create_app
from search.settings import Settings
from tests.search.api.conftest import auth
from tests.stores import PrivatePostgres

JOIN_WAIT_S = 3.0  # SHELF_SPOOL_JOIN_WAIT_S here: how long an unverifiable event waits
DRAIN_TIMEOUT_S = 30.0  # a loaded shared machine


def _components(client: TestClient) -> Components:
    built: Components = client.app.state.components  # type: ignore[attr-defined]
    return built


def _wait_for(condition: Callable[[], bool], timeout_s: float = DRAIN_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def outage_client(
    api_settings: Settings,
    private_postgres: PrivatePostgres,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[TestClient]:
    """The app with its events in the private PostgreSQL (tables of this module only)."""
    settings = api_settings.model_copy(
        update={
            "events_url": private_postgres.url,
            "events_table_prefix": f"t{uuid.uuid4().hex[:8]}_",
            "spool_path": tmp_path_factory.mktemp("spool") / "spool.db",
            "spool_join_wait_s": JOIN_WAIT_S,
            "spool_backoff_max_s": 0.5,
        }
    )
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def store_down(private_postgres: PrivatePostgres, outage_client: TestClient) -> Iterator[None]:
    """PostgreSQL stopped for the test's first part; the test calls ``.start()`` itself, or
    this does at the end. The spool is drained before the next test."""
    private_postgres.stop()
    try:
        yield
    finally:
        with contextlib.suppress(RuntimeError):  # started by the test already
            private_postgres.start()
        _wait_for(lambda: _components(outage_client).spool.health().depth == 0)  # type: ignore[union-attr]


def _search(client: TestClient) -> tuple[str, dict]:
    answer = client.get("/search", params={"q": "coffee", "locale": "en", "rerank": "0"})
    assert answer.status_code == 200, answer.text
    return answer.json()["request_id"], answer.json()["items"][0]


def _click(request_id: str, item: dict | None = None, kind: str = "click") -> dict:
    item = item or {"product_id": "p1", "position": 1}
    return {
        "event_id": uuid.uuid4().hex,
        "type": kind,
        "request_id": request_id,
        "product_id": item["product_id"],
        "position": item["position"],
    }


def test_events_for_searches_answered_during_an_outage_are_accepted_and_joined_later(
    outage_client: TestClient, private_postgres: PrivatePostgres, store_down: None
) -> None:
    answered = [_search(outage_client) for _ in range(3)]
    kinds = ["click", "add_to_cart", "purchase"]
    events = [_click(rid, item, kind) for (rid, item), kind in zip(answered, kinds, strict=True)]
    response = outage_client.post("/events", json=events, headers=auth())
    assert response.status_code == 202, response.text
    assert response.json()["pending"] == 3 and response.json()["rejected_count"] == 0
    private_postgres.start()
    components = _components(outage_client)
    _wait_for(lambda: components.spool.health().depth == 0)  # type: ignore[union-attr]
    searches = {rid for rid, _ in answered}
    assert components.event_log.known_request_ids(searches) == searches
    stored = outage_client.post("/events", json=events, headers=auth()).json()
    assert stored["duplicates"] == 3  # each stored once, joined to its search


def test_an_event_naming_no_search_is_a_422_while_the_store_can_say_so(
    outage_client: TestClient,
) -> None:
    response = outage_client.post("/events", json=_click("never-issued"), headers=auth())
    assert response.status_code == 422
    assert "matches no search answer" in response.json()["error"]["message"]


def test_during_an_outage_an_unknown_search_is_waited_for_then_its_event_kept_aside(
    outage_client: TestClient, private_postgres: PrivatePostgres, store_down: None
) -> None:
    response = outage_client.post("/events", json=_click("never-issued-2"), headers=auth())
    assert response.status_code == 202 and response.json()["pending"] == 1
    spool = _components(outage_client).spool
    orphaned = spool.health().orphaned  # type: ignore[union-attr]
    private_postgres.start()
    _wait_for(lambda: spool.health().orphaned == orphaned + 1)  # type: ignore[union-attr]
    assert spool.health().depth == 0  # type: ignore[union-attr]


# -- a full disk ------------------------------------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs: a real filesystem that runs out of space."""
    if os.geteuid() != 0:
        pytest.skip("a full disk is simulated with a tmpfs, which only root may mount")
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)], check=True)
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def _fill(disk: Path) -> Path:
    """Write a file until the disk is full; return it (delete it to free the space)."""
    filler = disk / "filler"
    with open(filler, "wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass
    return filler


def test_a_full_disk_fails_readyz_and_writes_get_503_and_nothing_is_lost_once_freed(
    api_settings: Settings, tiny_disk: Path
) -> None:
    settings = api_settings.model_copy(
        update={
            "events_url": f"sqlite:///{tiny_disk / 'events.db'}",
            "spool_path": tiny_disk / "spool.db",
            "spool_backoff_max_s": 0.2,
            "spool_retry_after_s": 7,
        }
    )
    with TestClient(create_app(settings)) as client:
        components = _components(client)
        filler = _fill(tiny_disk)
        answered = [_search(client) for _ in range(5)]  # searches still answer
        _wait_for(lambda: components.spool.unwritable is not None)  # type: ignore[union-attr]
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert not ready.json()["checks"]["spool"]["ok"]
        assert "disk" in ready.json()["checks"]["spool"]["detail"]
        events = [_click(rid, item) for rid, item in answered]
        refused = client.post("/events", json=events, headers=auth())
        assert refused.status_code == 503, refused.text
        assert refused.headers["Retry-After"] == "7"
        filler.unlink()  # space again: the held impressions land, the client's retry is stored
        assert components.impressions.flush(timeout_s=DRAIN_TIMEOUT_S)
        retried = client.post("/events", json=events, headers=auth())
        assert retried.status_code == 200 and retried.json()["stored"] == 5, retried.text
        searches = {rid for rid, _ in answered}
        assert components.event_log.known_request_ids(searches) == searches
        assert client.get("/readyz").status_code == 200
