"""``/analytics/...`` on SQLite and PostgreSQL: zero-result searches logged through ``/search``,
the lists behind the API key, k-anonymity, and bad input naming its parameter."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from tests.search.api.conftest import auth, from_network


def _search(client: TestClient, q: str, user: str, **params: object) -> dict:  # type: ignore[type-arg]
    """A search by ``user`` (``RUN-N``), from a network of its own (the N-th)."""
    shopper = from_network(client, int(user.rsplit("-", 1)[1]))
    answer = shopper.get("/search", params={"q": q, "user_id": user, "lang": "en", **params})
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def test_a_zero_result_search_is_logged_and_listed(store_client: TestClient) -> None:
    run = uuid.uuid4().hex[:6]
    query = f"coffee {run}"
    for user in range(5):  # no product has this brand: nothing matches
        body = _search(store_client, query, f"{run}-{user}", brand=f"no-brand-{run}")
        assert body["total"] == 0 and body["items"] == []
    listed = store_client.get("/analytics/zero-results", params={"locale": "en-US"},
                              headers=auth())  # fmt: skip
    assert listed.status_code == 200, listed.text
    rows = {row["query"]: row for row in listed.json()["queries"]}
    assert rows[query]["zero_result_searches"] == 5 and rows[query]["users"] == 5
    assert listed.json()["min_users"] == 5


def test_one_query_and_its_threshold_through_the_api(store_client: TestClient) -> None:
    run = uuid.uuid4().hex[:6]
    query = f"coffee {run}"  # its own key in this store
    for user in range(4):
        _search(store_client, query, f"{run}-{user}", recall="bm25")
    hidden = store_client.get("/analytics/query", params={"q": query.upper()}, headers=auth())
    assert hidden.status_code == 404 and "fewer than 5 users" in hidden.json()["error"]["message"]
    answer = _search(store_client, query, f"{run}-4", recall="bm25")
    click = {"event_id": uuid.uuid4().hex, "type": "click", "request_id": answer["request_id"],
             "product_id": answer["items"][0]["product_id"], "position": 1}  # fmt: skip
    assert store_client.post("/events", json=click, headers=auth()).status_code == 200
    shown = store_client.get("/analytics/query", params={"q": query.upper()}, headers=auth())
    assert shown.status_code == 200, shown.text
    row = shown.json()
    assert (row["query"], row["searches"], row["users"], row["clicks"]) == (query, 5, 5, 1)
    assert row["ctr"] == pytest.approx(1 / 5) and row["mean_first_click_position"] == 1.0
    top = store_client.get("/analytics/top-queries", params={"limit": 1000}, headers=auth())
    assert query in [r["query"] for r in top.json()["queries"]]
    daily = store_client.get("/analytics/daily", headers=auth())
    assert daily.status_code == 200 and daily.json()["days"][-1]["searches"] >= 5


BAD_INPUT = [
    ("/analytics/top-queries", {"locale": "xx-YY-ZZZZZ"}, "locale"),
    ("/analytics/top-queries", {"locale": "tlh"}, "locale"),
    ("/analytics/zero-results", {"from": "2026-12-01", "to": "2026-11-01"}, "from"),
    ("/analytics/no-clicks", {"from": "2026-11-01T00:00Z", "to": "2026-11-01T00:00Z"}, "from"),
    ("/analytics/daily", {"from": "yesterday"}, "from"),
    ("/analytics/top-queries", {"limit": "0"}, "limit"),
    ("/analytics/top-queries", {"limit": "1000001"}, "limit"),
    ("/analytics/no-clicks", {"limit": "-3"}, "limit"),
    ("/analytics/query", {}, "q"),
]
ROUTES = ["/analytics/top-queries", "/analytics/zero-results", "/analytics/no-clicks",
          "/analytics/query", "/analytics/daily"]  # fmt: skip
# A time that is a valid datetime but falls outside years 1-9999 once moved to UTC.
OUT_OF_RANGE = [
    ({"from": "0001-01-01T00:00:00+01:00"}, "from"),
    ({"to": "9999-12-31T23:59:59-12:00"}, "to"),
    ({"from": "2026-11-01", "to": "9999-12-31T23:59:59-00:01"}, "to"),
]
BAD_INPUT += [(path, {"q": "x", **params}, named) for path in ROUTES
              for params, named in OUT_OF_RANGE]  # fmt: skip


@pytest.mark.parametrize(("path", "params", "named"), BAD_INPUT)
def test_bad_input_is_a_422_naming_the_parameter(
    client: TestClient, path: str, params: dict[str, str], named: str
) -> None:
    answer = client.get(path, params=params, headers=auth())
    assert answer.status_code == 422, answer.text
    assert named in answer.json()["error"]["message"]


@pytest.mark.parametrize("path", ROUTES)
def test_the_first_and_last_utc_times_are_a_window(store_client: TestClient, path: str) -> None:
    params = {"q": "x", "from": "0001-01-01T00:00:00Z", "to": "9999-12-31T23:59:59.999999Z"}
    answer = store_client.get(path, params=params, headers=auth())
    assert answer.status_code in (200, 404), answer.text  # 404: `x` is below the threshold


@pytest.mark.parametrize("path", ROUTES)
def test_analytics_need_the_api_key(client: TestClient, path: str) -> None:
    assert client.get(path, params={"q": "x"}).status_code == 401
