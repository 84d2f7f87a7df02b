"""``GET /suggest`` on the real app (sample index), with SQLite and PostgreSQL events."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from search.api.app import Components
from search.api.security import key_identity
from search.events.log import Impression
from tests.conftest import API_KEY
from tests.search.api.conftest import auth


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


def suggested(client: TestClient, prefix: str) -> list[str]:
    body = client.get("/suggest", params={"q": prefix, "locale": "en"}).json()
    return [s["text"] for s in body["suggestions"]]


def test_a_blocked_phrase_and_its_completions_leave_suggestions_at_once(
    store_client: TestClient,
) -> None:
    components = components_of(store_client)
    word = f"zq{uuid.uuid4().hex[:6]}"
    for query in (f"{word} pills", f"{word} cheap pills online", f"{word} vitamins"):
        searched(components, query, 5)
    assert components.suggestions is not None and components.suggestions.refresh()
    assert len(suggested(store_client, word)) == 3
    pills = f"{word.upper()}-PÍLLS"  # a word of this test's own, in capitals, with an accent
    for query in (f"{word} {word}-pills", f"{word} cheap {word}-pills online"):
        searched(components, query, 5)
    assert components.suggestions.refresh()
    assert len(suggested(store_client, word)) == 5
    blocked = store_client.post("/suggest/blocks", json={"phrase": pills}, headers=auth())
    assert blocked.status_code == 201, blocked.text
    assert blocked.json()["key"] == f"{word}-pills" and blocked.json()["created"]
    assert blocked.json()["actor"] == key_identity(API_KEY)
    # The phrase and every completion holding it as a word go, at once (no refresh needed).
    assert sorted(suggested(store_client, word)) == [
        f"{word} cheap pills online", f"{word} pills", f"{word} vitamins"
    ]  # fmt: skip
    listed = store_client.get("/suggest/blocks", headers=auth()).json()["blocked"]
    assert f"{word}-pills" in [e["key"] for e in listed]
    again = store_client.post("/suggest/blocks", json={"phrase": f"{word}-pills"}, headers=auth())
    assert again.status_code == 200 and not again.json()["created"]
    gone = store_client.delete("/suggest/blocks", params={"phrase": f"{word}-pills"},
                               headers=auth())  # fmt: skip
    assert gone.status_code == 200, gone.text
    assert len(suggested(store_client, word)) == 5


BLOCKS_BAD = [
    ("post", {"json": {"phrase": "x"}}, {}, 401, "API key"),
    ("get", {}, {}, 401, "API key"),
    ("delete", {"params": {"phrase": "x"}}, {}, 401, "API key"),
    ("post", {"json": {"phrase": "  "}}, auth(), 422, "phrase: empty"),
    ("post", {"json": {"phrase": "x" * 201}}, auth(), 422, "phrase"),
    ("post", {"json": {"phrase": "x", "extra": 1}}, auth(), 422, "extra"),
    ("delete", {"params": {"phrase": "never blocked zq"}}, auth(), 404, "is not blocked"),
]


@pytest.mark.parametrize(("method", "request_args", "headers", "status", "why"), BLOCKS_BAD)
def test_the_blocklist_refuses_what_it_must_naming_why(
    client: TestClient,
    method: str,
    request_args: dict[str, object],
    headers: dict[str, str],
    status: int,
    why: str,
) -> None:
    answer = getattr(client, method)("/suggest/blocks", headers=headers, **request_args)
    assert answer.status_code == status, answer.text
    assert why in answer.json()["error"]["message"]
