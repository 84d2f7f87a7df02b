"""Popularity through the real app: what reaches every shopper (``/suggest``'s popular
completions, analytics' top queries) counts client networks and joined clicks, so user ids a
client invents cannot put a phrase there (issue 27, "inputs that cannot be forged cheaply")."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from search.api.app import Components, create_app
from search.settings import Settings
from tests.search.api.conftest import auth, from_network


def components_of(client: TestClient) -> Components:
    built: Components = client.app.state.components  # type: ignore[attr-defined]
    return built


def search(client: TestClient, query: str, user: str) -> str:
    """One public search that shows products; its request id."""
    params = {"q": query, "user_id": user, "lang": "en", "recall": "bm25"}
    answer = client.get("/search", params=params)
    assert answer.status_code == 200, answer.text
    assert answer.json()["items"], "the phrase must find products to count"
    return str(answer.json()["request_id"])


def reaches_every_shopper(client: TestClient, phrase: str) -> dict[str, bool]:
    """Whether ``phrase`` is now a suggestion and a top query."""
    components = components_of(client)
    components.impressions.flush()
    assert components.suggestions is not None and components.suggestions.refresh()
    suggested = client.get("/suggest", params={"q": phrase[:9], "locale": "en"}).json()
    top = client.get("/analytics/top-queries", params={"limit": 1000}, headers=auth()).json()
    return {
        "suggest": phrase in [s["text"] for s in suggested["suggestions"]],
        "top": phrase in [row["query"] for row in top["queries"]],
    }


def phrase() -> str:
    return f"coffee zq{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize("invented", [5, 50])
def test_invented_user_ids_from_one_network_cannot_put_a_phrase_anywhere(
    store_client: TestClient, invented: int
) -> None:
    spam, spammer = phrase(), from_network(store_client, 66)
    for n in range(invented):
        search(spammer, spam, f"fake-{n}")
    assert reaches_every_shopper(store_client, spam) == {"suggest": False, "top": False}


def test_invented_user_ids_without_a_network_count_for_nothing(store_client: TestClient) -> None:
    spam = phrase()
    for n in range(5):  # the test client's peer is "testclient": not an IP address
        search(store_client, spam, f"fake-{n}")
    assert reaches_every_shopper(store_client, spam) == {"suggest": False, "top": False}


def test_five_networks_put_a_phrase_into_suggestions_and_top_queries(
    store_client: TestClient,
) -> None:
    popular = phrase()
    for n in range(4):
        search(from_network(store_client, n), popular, "the-same-id")
    assert reaches_every_shopper(store_client, popular) == {"suggest": False, "top": False}
    search(from_network(store_client, 4), popular, "the-same-id")
    assert reaches_every_shopper(store_client, popular) == {"suggest": True, "top": True}


def test_clicks_the_storefront_sends_count_their_shoppers(store_client: TestClient) -> None:
    clicked, one_network = phrase(), from_network(store_client, 77)
    request_ids = [search(one_network, clicked, f"fake-{n}") for n in range(5)]
    for n, request_id in enumerate(request_ids):
        click = {"event_id": uuid.uuid4().hex, "type": "click", "request_id": request_id,
                 "product_id": "en-us-0001", "position": 1, "user_id": f"shopper-{n}"}  # fmt: skip
        assert store_client.post("/events", json=click, headers=auth()).status_code == 200
        fifth = n == 4
        assert reaches_every_shopper(store_client, clicked) == {"suggest": fifth, "top": fifth}


@pytest.fixture(scope="module")
def behind_proxy(api_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
    TestClient
]:  # fmt: skip
    """The app behind a load balancer at 10.9.0.1 (``SHELF_TRUSTED_PROXIES``), its own store."""
    events = tmp_path_factory.mktemp("proxied-events") / "events.db"
    settings = api_settings.model_copy(
        update={"events_url": f"sqlite:///{events}", "trusted_proxies": ["10.9.0.1/32"]}
    )
    with TestClient(create_app(settings), client=("10.9.0.1", 50000)) as test_client:
        yield test_client


# (the peer, whether it is the trusted proxy)
PEERS = [("10.9.0.1", True), ("10.9.0.2", False)]


@pytest.mark.parametrize(("peer", "trusted"), PEERS)
def test_five_forwarded_networks_count_only_through_the_trusted_proxy(
    behind_proxy: TestClient, peer: str, trusted: bool
) -> None:
    forwarded, via = phrase(), TestClient(behind_proxy.app, client=(peer, 50000))
    for n in range(5):
        via.headers["X-Forwarded-For"] = f"198.51.{n}.7"
        search(via, forwarded, "the-same-id")
    assert reaches_every_shopper(behind_proxy, forwarded) == {"suggest": trusted, "top": trusted}
