"""``GET /suggest`` on the real app (sample index), with SQLite and PostgreSQL events."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from search.api.app import Components
from search.events.log import Impression


def components_of(client: TestClient) -> Components:
    built: Components = client.app.state.components  # type: ignore[attr-defined]
    return built


def searched(components: Components, query: str, users: int) -> None:
    """``users`` distinct users, each from a network of its own, searched ``query`` (in
    English) and were shown a product."""
    components.event_log.record_impressions(
        [
            Impression(
                uuid.uuid4().hex,
                query,
                "en",
                "control",
                ("en-us-0001",),
                user_id=f"{query}-{n}",
                client_network=f"10.1.{n}.0/24",
            )
            for n in range(users)
        ]  # fmt: skip
    )


def test_popular_queries_are_suggested_from_five_users_on(store_client: TestClient) -> None:
    components = components_of(store_client)
    word = f"zq{uuid.uuid4().hex[:6]}"
    searched(components, f"{word} popular", 5)
    searched(components, f"{word} private", 4)
    assert components.suggestions is not None
    assert components.suggestions.refresh()
    response = store_client.get("/suggest", params={"q": word, "locale": "en-US"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["language"] == "en" and body["locale"] == "en-US"
    assert [(s["text"], s["users"]) for s in body["suggestions"]] == [(f"{word} popular", 5)]


def test_catalog_words_are_suggested_in_cjk(client: TestClient) -> None:
    body = client.get("/suggest", params={"q": "무", "locale": "ko"}).json()
    assert "무선" in [s["text"] for s in body["suggestions"]]
    assert body["built_at"] is not None


def test_empty_prefix_answers_the_most_popular(client: TestClient) -> None:
    body = client.get("/suggest", params={"q": "", "locale": "de-DE", "limit": 3}).json()
    assert len(body["suggestions"]) == 3


BAD_INPUT = [
    ({"q": "a" * 501}, "q", "SHELF_API_MAX_QUERY_CHARS"),
    ({"q": "耳" * 400}, "q", "SHELF_API_MAX_QUERY_BYTES"),
    ({"q": "wi", "locale": "sw-KE"}, "locale", "unsupported locale"),
    ({"q": "wi", "locale": "en_US_x_"}, "locale", "not a valid BCP-47 tag"),
    ({"q": "wi", "limit": 0}, "limit", "between 1 and 20"),
    ({"q": "wi", "limit": 21}, "limit", "between 1 and 20"),
    ({"q": "wi", "limit": "ten"}, "limit", "integer"),
    ({}, "q", "Field required"),
]


@pytest.mark.parametrize(("params", "field", "why"), BAD_INPUT)
def test_bad_input_is_a_422_naming_the_parameter(
    client: TestClient, params: dict[str, object], field: str, why: str
) -> None:
    response = client.get("/suggest", params=params)
    assert response.status_code == 422, response.text
    message = response.json()["error"]["message"]
    assert message.startswith(f"{field}") and why in message, message
