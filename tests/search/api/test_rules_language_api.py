"""``GET /search`` with a rule of one language, on the real app: an undetected short query
(``"language": null``) does not meet it, on the default pipeline and on every variant of a
running experiment; a stated ``lang`` does. The API's own errors keep naming its routes."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.search.api.conftest import auth
from tests.search.api.test_rules_api import PHONE, body


def test_a_rule_of_one_language_needs_a_known_language_on_every_variant(
    client: TestClient,
) -> None:
    from tests.search.api.test_experiments_api import _create, _user_in

    experiment = _create(
        client, [{"name": "plain", "overrides": {"rerank": False}}, {"name": "reranked"}],
        status="running",
    )  # fmt: skip
    rule = body("en-earbuds", condition={"match": "contains", "phrase": "earbuds",
                                         "language": "en"},
                actions={"pins": [{"product_id": PHONE, "position": 1}]})  # fmt: skip
    try:
        assert client.post("/rules", json=rule, headers=auth()).status_code == 201
        for variant in ("plain", "reranked", None):
            user = {"user_id": _user_in(experiment, variant)} if variant else {}
            unknown = client.get("/search", params={"q": "earbuds", **user}).json()
            assert unknown["variant"] == (variant or "default") and unknown["language"] is None
            assert unknown["rules"] == [] and not unknown["items"][0]["pinned"]
            stated = client.get("/search", params={"q": "earbuds", "lang": "en", **user}).json()
            assert stated["rules"] == ["en-earbuds"]
            assert (stated["items"][0]["product_id"], stated["items"][0]["pinned"]) == (PHONE, True)
    finally:
        client.delete("/rules/en-earbuds", headers=auth())
        client.patch(f"/experiments/{experiment['id']}", json={"status": "stopped"},
                     headers=auth())  # fmt: skip


def test_the_api_names_its_routes_in_its_advice(client: TestClient) -> None:
    missing = client.delete("/rules/never-made", headers=auth())
    assert missing.status_code == 404
    assert "GET /rules lists those that do" in missing.json()["error"]["message"]
    assert client.post("/rules", json=body("taken-api"), headers=auth()).status_code == 201
    try:
        taken = client.post("/rules", json=body("taken-api"), headers=auth())
        assert taken.status_code == 409
        assert "PUT /rules/taken-api changes it" in taken.json()["error"]["message"]
    finally:
        client.delete("/rules/taken-api", headers=auth())
