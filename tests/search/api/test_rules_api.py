"""``/rules`` on the real app, on SQLite and PostgreSQL: create, read, change, delete, import and
audit merchandising rules; every kind of bad input refused with nothing changed; a search
applies a change at once."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from search.api.app import Components
from search.api.security import key_identity
from tests.conftest import API_KEY
from tests.search.api.conftest import auth

PHONE, CASE, EARBUDS = "en-us-0001", "en-us-0002", "en-us-0005"


def body(rule_id: str | None = None, **changes: Any) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "id": rule_id or f"r-{uuid.uuid4().hex[:8]}",
        "condition": {"match": "equals", "phrase": f"phrase {uuid.uuid4().hex[:8]}"},
        "actions": {"pins": [{"product_id": PHONE, "position": 1}], "hide": [CASE]},
    }
    for path, value in changes.items():
        target = rule
        *parents, leaf = path.split("__")
        for key in parents:
            target = target[key]
        target[leaf] = value
    return rule


@pytest.fixture
def rules(store_client: TestClient) -> Iterator[TestClient]:
    """The app with no rules before and after the test (the app is shared by the session)."""
    clear(store_client)
    yield store_client
    clear(store_client)


@pytest.fixture(scope="module", autouse=True)
def drop_postgres_rule_tables(postgres_client: TestClient) -> Iterator[None]:
    """The PostgreSQL app's rule tables go with this module (its event tables go with it)."""
    yield
    postgres_client.app.state.components.rules.store.drop_tables()  # type: ignore[attr-defined]


def clear(client: TestClient) -> None:
    for rule in client.get("/rules", headers=auth()).json()["rules"]:
        client.delete(f"/rules/{rule['id']}", headers=auth())


def test_every_rules_route_needs_the_api_key(client: TestClient) -> None:
    assert client.get("/rules").status_code == 401
    assert client.post("/rules", json=body()).status_code == 401
    assert client.post("/rules/import", json={"rules": [body()]}).status_code == 401
    assert client.get("/rules/audit").status_code == 401
    assert client.delete("/rules/x").status_code == 401


def test_a_rule_is_created_read_changed_deleted_and_audited(rules: TestClient) -> None:
    created = rules.post("/rules", json=body("sale", condition__phrase=" Big  SALE "),
                         headers=auth() | {"X-Shelf-Actor": "ana"})  # fmt: skip
    assert created.status_code == 201, created.text
    assert created.json()["condition"]["phrase"] == "big sale"  # normalised as queries are
    assert rules.get("/rules/sale", headers=auth()).json()["id"] == "sale"
    changed = body("sale", actions__hide=[EARBUDS])
    assert rules.put("/rules/sale", json=changed, headers=auth()).status_code == 200
    assert [r["id"] for r in rules.get("/rules", headers=auth()).json()["rules"]] == ["sale"]
    assert rules.delete("/rules/sale", headers=auth()).status_code == 200
    assert rules.get("/rules/sale", headers=auth()).status_code == 404
    trail = rules.get("/rules/sale/audit", headers=auth()).json()["entries"]
    key = key_identity(API_KEY)
    assert [(e["action"], e["actor"], e["note"]) for e in trail] == [
        ("delete", key, None), ("update", key, None), ("create", key, "ana")
    ]  # fmt: skip
    assert trail[2]["before"] is None and trail[2]["after"]["actions"]["hide"] == [CASE]
    assert trail[1]["before"]["actions"]["hide"] == [CASE]
    assert trail[1]["after"]["actions"]["hide"] == [EARBUDS]
    assert trail[0]["after"] is None and trail[0]["before"]["actions"]["hide"] == [EARBUDS]


BAD: list[tuple[str, dict[str, Any], int, str]] = [
    (
        "unknown products",
        {"actions__pins": [{"product_id": "nope-1", "position": 1}], "actions__hide": ["nope-2"]},
        422,
        "'nope-1', 'nope-2'",
    ),
    (
        "position twice",
        {
            "actions__pins": [
                {"product_id": PHONE, "position": 1},
                {"product_id": EARBUDS, "position": 1},
            ]
        },
        422,
        "position 1 is pinned twice",
    ),
    (
        "product pinned twice",
        {
            "actions__pins": [
                {"product_id": PHONE, "position": 1},
                {"product_id": PHONE, "position": 2},
            ]
        },
        422,
        "pinned twice",
    ),
    ("pinned and hidden", {"actions__hide": [PHONE]}, 422, "both pinned and hidden"),
    (
        "start after end",
        {"start": "2026-12-01T00:00:00+00:00", "end": "2026-11-01T00:00:00+00:00"},
        422,
        "must be before end",
    ),
    (
        "start equals end",
        {"start": "2026-12-01T00:00:00Z", "end": "2026-12-01T00:00:00Z"},
        422,
        "must be before end",
    ),
    ("no time zone", {"start": "2026-12-01T00:00:00"}, 422, "start"),
    (
        "factor zero",
        {"actions__boosts": [{"field": "brand", "value": "x", "factor": 0}]},
        422,
        "factor",
    ),
    (
        "factor negative",
        {"actions__boosts": [{"field": "brand", "value": "x", "factor": -2}]},
        422,
        "factor",
    ),
    (
        "factor absurd",
        {"actions__boosts": [{"field": "brand", "value": "x", "factor": 1e9}]},
        422,
        "factor",
    ),
    (
        "factor one",
        {"actions__boosts": [{"field": "brand", "value": "x", "factor": 1}]},
        422,
        "changes nothing",
    ),
    ("position zero", {"actions__pins": [{"product_id": PHONE, "position": 0}]}, 422, "position"),
    ("position far", {"actions__pins": [{"product_id": PHONE, "position": 101}]}, 422, "position"),
    ("no action", {"actions": {}}, 422, "at least one action"),
    ("no word", {"condition__phrase": " -- "}, 422, "no word"),
    ("unknown language", {"condition__language": "xx"}, 422, "language"),
    ("bad id", {"id": "Has Spaces"}, 422, "id"),
    ("unknown field", {"priority": 3}, 422, "priority"),
]


@pytest.mark.parametrize(("kind", "changes", "status", "named"), BAD, ids=[b[0] for b in BAD])
def test_bad_rules_are_refused_naming_what_is_wrong_and_nothing_is_stored(
    rules: TestClient, kind: str, changes: dict[str, Any], status: int, named: str
) -> None:
    answer = rules.post("/rules", json=body(**changes), headers=auth())
    assert answer.status_code == status, answer.text
    assert named in answer.json()["error"]["message"]
    assert rules.get("/rules", headers=auth()).json()["rules"] == []
    imported = rules.post("/rules/import", json={"rules": [body(), body(**changes)]},
                          headers=auth())  # fmt: skip
    assert imported.status_code == status and "rules[1]" in imported.json()["error"]["message"]
    assert rules.get("/rules", headers=auth()).json()["rules"] == []


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"match": "equals", "phrase": "tv"}, {"match": "equals", "phrase": "TV"}),
        ({"match": "equals", "phrase": "smart tv"}, {"match": "contains", "phrase": "tv"}),
        ({"match": "contains", "phrase": "tv"}, {"match": "contains", "phrase": "smart"}),
    ],
)
def test_two_rules_pinning_different_products_at_one_position_for_one_query_conflict(
    rules: TestClient, first: dict[str, str], second: dict[str, str]
) -> None:
    assert rules.post("/rules", json=body("a", condition=first), headers=auth()).status_code == 201
    clash = body("b", condition=second, actions={"pins": [{"product_id": EARBUDS, "position": 1}]})
    answer = rules.post("/rules", json=clash, headers=auth())
    assert answer.status_code == 409 and "where rule 'a' pins" in answer.json()["error"]["message"]
    elsewhere = copy.deepcopy(clash)  # no clash: another position, another language, disabled
    elsewhere["actions"]["pins"][0]["position"] = 2
    assert rules.post("/rules", json=elsewhere, headers=auth()).status_code == 201
    for other in ({"condition": {**second, "language": "de"}}, {"enabled": False}):
        rules.delete("/rules/b", headers=auth())
        scoped = {**clash, **other}
        if "condition" in other:  # "a" stays for every language: scope "a" to English
            rules.put(
                "/rules/a", json=body("a", condition={**first, "language": "en"}), headers=auth()
            )
        assert rules.post("/rules", json=scoped, headers=auth()).status_code == 201


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/rules/nope"),
        ("DELETE", "/rules/nope"),
        ("GET", "/rules/nope/audit"),
        ("GET", "/rules/nope/audit?limit=1"),
    ],  # fmt: skip
)
def test_a_rule_id_never_used_is_a_404_naming_it(rules: TestClient, method: str, path: str) -> None:
    answer = rules.request(method, path, headers=auth())
    assert answer.status_code == 404, answer.text  # the audit answered 200 with no entries
    assert "'nope'" in answer.json()["error"]["message"]


def test_a_taken_id_is_a_conflict_and_a_path_body_mismatch_is_refused(rules: TestClient) -> None:
    assert rules.post("/rules", json=body("one"), headers=auth()).status_code == 201
    assert rules.post("/rules", json=body("one"), headers=auth()).status_code == 409
    assert rules.put("/rules/one", json=body("two"), headers=auth()).status_code == 422
    assert rules.put("/rules/ghost", json=body("ghost"), headers=auth()).status_code == 404


def test_a_search_applies_a_new_rule_at_once_and_marks_what_it_did(
    rules: TestClient, components: Components
) -> None:
    plain = rules.get("/search", params={"q": "wireless earbuds", "rerank": "false"}).json()
    top = plain["items"][0]["product_id"]
    pins = [{"product_id": PHONE, "position": 2}]
    rule = body("earbuds", condition={"match": "contains", "phrase": "earbuds"},
                actions={"pins": pins, "hide": [top]})  # fmt: skip
    assert rules.post("/rules", json=rule, headers=auth()).status_code == 201
    found = rules.get("/search", params={"q": "Wireless EARBUDS", "rerank": "false"}).json()
    assert found["rules"] == ["earbuds"]
    shown = [(i["product_id"], i["pinned"], i["rule"]) for i in found["items"]]
    assert shown[1] == (PHONE, True, "earbuds") and top not in [s[0] for s in shown]
    rules.delete("/rules/earbuds", headers=auth())
    again = rules.get("/search", params={"q": "wireless earbuds", "rerank": "false"}).json()
    assert again["rules"] == [] and again["items"][0]["product_id"] == top


def test_every_variant_of_a_running_experiment_applies_the_rules(client: TestClient) -> None:
    from tests.search.api.test_experiments_api import _create, _user_in

    experiment = _create(
        client, [{"name": "plain", "overrides": {"rerank": False}}, {"name": "reranked"}],
        status="running",
    )  # fmt: skip
    rule = body("variants", condition={"match": "contains", "phrase": "earbuds"},
                actions={"pins": [{"product_id": PHONE, "position": 1}]})  # fmt: skip
    try:
        assert client.post("/rules", json=rule, headers=auth()).status_code == 201
        for variant in ("plain", "reranked"):
            params = {"q": "wireless earbuds", "user_id": _user_in(experiment, variant)}
            found = client.get("/search", params=params).json()
            assert found["variant"] == variant and found["rules"] == ["variants"]
            assert (found["items"][0]["product_id"], found["items"][0]["pinned"]) == (PHONE, True)
    finally:
        client.delete("/rules/variants", headers=auth())
        client.patch(f"/experiments/{experiment['id']}", json={"status": "stopped"},
                     headers=auth())  # fmt: skip
