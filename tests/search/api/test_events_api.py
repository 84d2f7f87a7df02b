"""POST /events: stored once, tied to a real search, and only with the API key; every test runs
on the SQLite event store and on the real PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from search.api.app import Components
from search.api.components import settings_of
from search.settings import Settings
from tests.search.api.conftest import auth


@pytest.fixture
def components(store_client: TestClient) -> Components:
    """The components of the app under test: the session's (SQLite events) or the PostgreSQL
    one. The tests take ``store_client``: a parametrized override of ``client`` made pytest
    rebuild the session's app before every test (the param is its cache key)."""
    built: Components = store_client.app.state.components  # type: ignore[attr-defined]
    return built


def _search(client: TestClient) -> dict:
    response = client.get("/search", params={"q": "coffee", "locale": "en", "k": 3})
    return response.json()


def _counts(answer: dict) -> dict:
    keys = ("received", "stored", "duplicates")
    return {k: answer[k] for k in keys} | {"rejected": answer["rejected_count"]}


def _event(search: dict, **fields: object) -> dict:
    item = search["items"][0]
    event = {
        "event_id": uuid.uuid4().hex,
        "type": "click",
        "request_id": search["request_id"],
        "product_id": item["product_id"],
        "position": item["position"],
        "session_id": "s-1",
    }
    event.update(fields)
    return event


def test_an_event_round_trip_stores_it_once_even_when_sent_twice(
    store_client: TestClient, components: Components
) -> None:
    event = _event(_search(store_client), type="purchase", value=21.99, currency="USD")
    before = components.event_log.count("events")  # type: ignore[attr-defined]
    first = store_client.post("/events", json=event, headers=auth())
    again = store_client.post("/events", json=[event, event], headers=auth())
    assert first.status_code == 200, first.text
    assert _counts(first.json()) == {"received": 1, "stored": 1, "duplicates": 0, "rejected": 0}
    assert _counts(again.json()) == {"received": 2, "stored": 0, "duplicates": 2, "rejected": 0}
    assert components.event_log.count("events") == before + 1  # type: ignore[attr-defined]


def test_a_batch_of_events_is_stored(store_client: TestClient) -> None:
    search = _search(store_client)
    batch = [_event(search), _event(search, type="add_to_cart")]
    response = store_client.post("/events", json=batch, headers=auth())
    assert _counts(response.json()) == {"received": 2, "stored": 2, "duplicates": 0, "rejected": 0}
    assert response.json()["rejected"] == []


def test_the_impression_of_a_search_is_recorded(
    store_client: TestClient, components: Components
) -> None:
    search = _search(store_client)
    components.impressions.flush()
    assert components.event_log.known_request_ids([search["request_id"]]) == {search["request_id"]}


def test_an_unknown_request_id_is_refused_naming_it(store_client: TestClient) -> None:
    event = _event(_search(store_client), request_id="no-such-search")
    response = store_client.post("/events", json=event, headers=auth())
    assert response.status_code == 422
    assert "'no-such-search'" in response.json()["error"]["message"]


def test_a_batch_of_only_unknown_request_ids_is_refused_whole_storing_nothing(
    store_client: TestClient, components: Components
) -> None:
    search = _search(store_client)
    batch = [_event(search, request_id="lost-1"), _event(search, request_id="lost-2")]
    before = components.event_log.count("events")  # type: ignore[attr-defined]
    response = store_client.post("/events", json=batch, headers=auth())
    assert response.status_code == 422
    assert "'lost-1', 'lost-2'" in response.json()["error"]["message"]
    assert components.event_log.count("events") == before  # type: ignore[attr-defined]


def test_valid_events_of_a_batch_are_stored_beside_an_unknown_request_id(
    store_client: TestClient, components: Components
) -> None:
    search = _search(store_client)
    batch = [_event(search), _event(search), _event(search, request_id="gone"), _event(search)]
    before = components.event_log.count("events")  # type: ignore[attr-defined]
    response = store_client.post("/events", json=batch, headers=auth())
    assert response.status_code == 200, response.text
    assert _counts(response.json()) == {"received": 4, "stored": 3, "duplicates": 0, "rejected": 1}
    assert components.event_log.count("events") == before + 3  # type: ignore[attr-defined]


def test_a_rejected_event_is_listed_with_its_index_id_and_a_reason_naming_the_request_id(
    store_client: TestClient,
) -> None:
    search = _search(store_client)
    batch = [_event(search), _event(search, request_id="gone", event_id="ev-gone")]
    (rejected,) = store_client.post("/events", json=batch, headers=auth()).json()["rejected"]
    assert (rejected["index"], rejected["event_id"]) == (1, "ev-gone")
    assert "event 1 of the batch" in rejected["reason"]
    assert "request_id 'gone'" in rejected["reason"]


def test_a_duplicate_beside_a_rejected_event_is_counted_as_a_duplicate(
    store_client: TestClient,
) -> None:
    search = _search(store_client)
    stored = _event(search)
    store_client.post("/events", json=stored, headers=auth())
    batch = [stored, _event(search, request_id="gone")]
    response = store_client.post("/events", json=batch, headers=auth())
    assert _counts(response.json()) == {"received": 2, "stored": 0, "duplicates": 1, "rejected": 1}


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}],
    ids=["missing", "wrong", "wrong-bearer", "not-bearer"],
)
def test_missing_or_wrong_api_key_is_401_and_writes_nothing(
    store_client: TestClient, components: Components, headers: dict[str, str]
) -> None:
    event = _event(_search(store_client))
    before = components.event_log.count("events")  # type: ignore[attr-defined]
    response = store_client.post("/events", json=event, headers=headers)
    assert response.status_code == 401
    assert "API key" in response.json()["error"]["message"]
    assert components.event_log.count("events") == before  # type: ignore[attr-defined]


def test_the_key_is_accepted_as_a_bearer_token(store_client: TestClient) -> None:
    event = _event(_search(store_client))
    headers = {"Authorization": f"Bearer {auth()['X-API-Key']}"}
    assert store_client.post("/events", json=event, headers=headers).status_code == 200


def test_without_a_configured_key_events_are_refused_saying_to_set_it(
    store_client: TestClient, api_settings: Settings
) -> None:
    app = store_client.app
    app.dependency_overrides[settings_of] = lambda: api_settings.model_copy(  # type: ignore[attr-defined]
        update={"api_key": None}
    )
    try:
        response = store_client.post("/events", json=_event(_search(store_client)), headers=auth())
    finally:
        del app.dependency_overrides[settings_of]  # type: ignore[attr-defined]
    assert response.status_code == 503
    assert "SHELF_API_KEY" in response.json()["error"]["message"]


def test_an_invalid_event_type_is_a_422_naming_the_field(store_client: TestClient) -> None:
    event = _event(_search(store_client), type="hover")
    response = store_client.post("/events", json=event, headers=auth())
    assert response.status_code == 422
    assert "type: Input should be 'click'" in response.json()["error"]["message"]
