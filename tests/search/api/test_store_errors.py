"""Whatever fails underneath, the answer is Shelf's JSON error shape, never a plain-text 500."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from search.api.app import Components
from tests.search.api.conftest import auth

DEAD_STORE = "postgresql+psycopg://postgres@127.0.0.1:1/test?connect_timeout=2"


def _store_down(components: Components, monkeypatch: pytest.MonkeyPatch) -> None:
    # The real event log, its engine pointed at a port nothing listens on.
    monkeypatch.setattr(components.event_log, "engine", sa.create_engine(DEAD_STORE))


def _store_refuses(components: Components, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise sa.exc.DataError("SELECT ...", {}, ValueError("cannot contain NUL (0x00) bytes"))

    monkeypatch.setattr(components.event_log, "experiments", refuse)


def _bug(components: Components, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(components.event_log, "experiments", fail)


@pytest.mark.parametrize(
    ("fault", "status", "error_type"),
    [
        (_store_down, 503, "EventStoreUnavailable"),
        (_store_refuses, 500, "EventStoreError"),
        (_bug, 500, "InternalError"),
    ],
    ids=["store down", "store refuses", "unexpected error"],
)
def test_a_failure_underneath_is_answered_in_the_json_error_shape(
    client: TestClient,
    components: Components,
    monkeypatch: pytest.MonkeyPatch,
    fault: Callable[[Components, pytest.MonkeyPatch], None],
    status: int,
    error_type: str,
) -> None:
    fault(components, monkeypatch)
    answering = TestClient(client.app, raise_server_exceptions=False)  # as a real server does
    response = answering.get("/experiments", headers=auth())
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["type"] == error_type
    assert response.json()["error"]["message"]
