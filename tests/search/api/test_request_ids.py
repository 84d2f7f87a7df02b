"""A caller's X-Request-ID sent twice: both searches keep their impression, and each click
attaches to the search it came from; on the SQLite and the PostgreSQL event store."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from search.api.app import Components
from search.api.middleware.logging import RecentRequestIds, assign_request_id
from tests.search.api.conftest import auth


def _search(client: TestClient, request_id: str, q: str) -> tuple[dict, dict[str, str]]:
    response = client.get(
        "/search", params={"q": q, "locale": "en", "k": 3}, headers={"X-Request-ID": request_id}
    )
    assert response.status_code == 200, response.text
    return response.json(), dict(response.headers)


def test_a_reused_request_id_keeps_both_impressions_and_each_click_its_search(
    store_client: TestClient,
) -> None:
    components: Components = store_client.app.state.components  # type: ignore[attr-defined]
    supplied = f"reused-{uuid.uuid4().hex[:8]}"
    first, first_headers = _search(store_client, supplied, "coffee")
    second, second_headers = _search(store_client, supplied, "tea")

    assert first["request_id"] == supplied == first_headers["x-request-id"]
    assert "x-request-id-supplied" not in first_headers
    fresh = second["request_id"]
    assert fresh != supplied and second_headers["x-request-id"] == fresh
    assert second_headers["x-request-id-supplied"] == supplied  # the response says so

    components.impressions.flush()
    assert components.event_log.known_request_ids([supplied, fresh]) == {supplied, fresh}
    clicks = {}
    for answer in (first, second):
        item = answer["items"][0]
        click = {
            "event_id": uuid.uuid4().hex,
            "type": "click",
            "request_id": answer["request_id"],
            "product_id": item["product_id"],
            "position": item["position"],
        }
        stored = store_client.post("/events", json=click, headers=auth())
        assert stored.json()["stored"] == 1, stored.text
        clicks[click["event_id"]] = answer["request_id"]
    events = components.event_log.tables.events  # type: ignore[attr-defined]
    with components.event_log.engine.connect() as conn:  # type: ignore[attr-defined]
        query = sa.select(events.c.event_id, events.c.request_id).where(
            events.c.event_id.in_(list(clicks))
        )
        assert dict(conn.execute(query).all()) == clicks


@pytest.mark.parametrize(
    ("supplied", "kept"),
    [(None, False), ("ok-1", True), ("a b", False), ("x" * 65, False), ("\x00", False)],
)
def test_a_request_id_is_the_callers_only_on_its_first_use(
    supplied: str | None, kept: bool
) -> None:
    recent = RecentRequestIds(capacity=4)
    first, reused = assign_request_id(supplied, recent)
    assert (first == supplied) is kept and reused is None
    again, reused = assign_request_id(supplied, recent)
    assert again != supplied and again != first
    assert reused == (supplied if kept else None)


def test_the_recent_request_ids_are_bounded() -> None:
    recent = RecentRequestIds(capacity=3)
    assert all(recent.first_use(f"id-{n}") for n in range(10))
    assert recent.first_use("id-0")  # long forgotten: the store catches such a reuse
    assert not recent.first_use("id-9")
    assert len(recent._seen) == 3
