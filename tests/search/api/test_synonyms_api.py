"""``/synonyms`` on the SQLite and the PostgreSQL event store: CRUD, duplicates, every kind of
malformed rule, all-or-nothing imports and the set limit. Tests keep to sets no other test uses
(fr, it, nl, pt) and empty them after themselves: the session's app is shared."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from search.synonyms.model import MAX_TERM_CHARS, MAX_TERMS_PER_RULE
from tests.search.api.conftest import auth

SETS = ("fr", "it", "nl", "pt")


@pytest.fixture
def api(store_client: TestClient) -> Iterator[TestClient]:
    """The app (SQLite, then PostgreSQL), its test sets emptied after the test."""
    yield store_client
    for language in SETS:
        body = {"language": language, "rules": [], "replace": True}
        assert store_client.post("/synonyms/import", json=body, headers=auth()).status_code == 200


def _listed(api: TestClient, language: str) -> list[dict[str, Any]]:
    response = api.get("/synonyms", params={"language": language}, headers=auth())
    assert response.status_code == 200, response.text
    return list(response.json()["synonyms"])


def test_synonyms_need_the_api_key(api: TestClient) -> None:
    assert api.get("/synonyms").status_code == 401
    body = {"rule": "a, b", "language": "fr"}
    assert api.post("/synonyms", json=body, headers={"X-API-Key": "wrong"}).status_code == 401


def test_a_rule_is_created_read_changed_and_deleted(api: TestClient) -> None:
    created = api.post("/synonyms", json={"rule": "Baskets, Tennis", "language": "fr-CA"},
                       headers=auth())  # fmt: skip
    assert created.status_code == 201, created.text
    rule = created.json()
    assert (rule["rule"], rule["language"], rule["kind"]) == ("baskets, tennis", "fr", "equivalent")
    assert rule["served"] is True  # this server applies its own change at once
    same = api.post("/synonyms", json={"rule": "tennis, baskets", "language": "fr"},
                    headers=auth())  # fmt: skip
    assert same.status_code == 200 and same.json()["id"] == rule["id"]  # idempotent
    path = f"/synonyms/{rule['id']}"
    assert api.get(path, headers=auth()).json() == rule
    changed = api.put(path, json={"rule": "tele => television", "language": "fr"}, headers=auth())
    assert changed.status_code == 200, changed.text
    assert changed.json()["kind"] == "one_way" and changed.json()["replacements"] == ["television"]
    assert _listed(api, "fr") == [changed.json()]
    assert api.delete(path, headers=auth()).status_code == 204
    missing = api.get(path, headers=auth())
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "NotFound"
    assert api.delete(path, headers=auth()).status_code == 404
    assert api.put(path, json={"rule": "a, b"}, headers=auth()).status_code == 404


def test_changing_a_rule_into_another_of_its_set_is_a_conflict(api: TestClient) -> None:
    first = api.post("/synonyms", json={"rule": "a, b", "language": "nl"}, headers=auth()).json()
    second = api.post("/synonyms", json={"rule": "c, d", "language": "nl"}, headers=auth()).json()
    clash = api.put(f"/synonyms/{second['id']}", json={"rule": "b, a", "language": "nl"},
                    headers=auth())  # fmt: skip
    assert clash.status_code == 409
    assert f"synonym {first['id']} already holds" in clash.json()["error"]["message"]


BAD_RULES = [
    ("", "the rule is empty"),
    ("   ", "the rule is empty"),
    ("a,,b", "empty term"),
    ("a, b,", "empty term"),
    ("=> b", "empty term"),
    ("a =>", "empty term"),
    ("a => b => c", "at most one '=>'"),
    ("solo", "at least two different terms"),
    ("same, SAME", "at least two different terms"),
    ("a, b => a, b", "maps its terms to themselves"),
    ("a, " + "x" * (MAX_TERM_CHARS + 1), f"at most {MAX_TERM_CHARS}"),
    (", ".join(f"t{i}" for i in range(MAX_TERMS_PER_RULE + 1)), f"at most {MAX_TERMS_PER_RULE}"),
    ("a, b\nc, d", "line break"),
    ("a, b\rc, d", "line break"),
    ("a, b\x00", "control character"),
]


@pytest.mark.parametrize(("rule", "why"), BAD_RULES, ids=[why for _, why in BAD_RULES])
def test_a_malformed_rule_is_a_422_naming_the_field(api: TestClient, rule: str, why: str) -> None:
    for method, path in (("POST", "/synonyms"), ("PUT", "/synonyms/1")):
        body = {"rule": rule, "language": "pt"}
        response = api.request(method, path, json=body, headers=auth())
        assert response.status_code == 422, (method, response.text)
        message = response.json()["error"]["message"]
        assert message.startswith("rule: ") and why in message, message
    assert _listed(api, "pt") == []


@pytest.mark.parametrize("language", ["xx", "sv", "ja-Latn", "", "en\tus"])
def test_an_unknown_language_is_a_422_naming_the_field(api: TestClient, language: str) -> None:
    for body in ({"rule": "a, b", "language": language}, {"language": language, "rules": ["a, b"]}):
        path = "/synonyms" if "rule" in body else "/synonyms/import"
        response = api.post(path, json=body, headers=auth())
        assert response.status_code == 422, response.text
        assert response.json()["error"]["message"].startswith("language: ")
    listed = api.get("/synonyms", params={"language": language}, headers=auth())
    assert listed.status_code == 422 and "language" in listed.json()["error"]["message"]


@pytest.mark.parametrize("shape", ["text", "rules"])
def test_a_bad_import_lists_every_bad_line_and_changes_nothing(api: TestClient, shape: str) -> None:
    kept = {"language": "it", "rules": ["a, b", "c => d"]}
    assert api.post("/synonyms/import", json=kept, headers=auth()).status_code == 200
    before = _listed(api, "it")
    lines = ["x, y", "bad,", "", "z => z", "# comment", "ok, fine", "solo"]
    body: dict[str, Any] = {"language": "it", "replace": True}
    body |= {"text": "\n".join(lines)} if shape == "text" else {"rules": lines}
    response = api.post("/synonyms/import", json=body, headers=auth())
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["type"] == "InvalidSynonyms" and "nothing was imported" in error["message"]
    # Text skips blank lines and comments; a list holds a rule per item.
    expected = [2, 4, 7] if shape == "text" else [2, 3, 4, 5, 7]
    assert [r["line"] for r in error["rejects"]] == expected
    assert all(f"line {n}: " in error["message"] for n in expected)
    assert error["rejects"][0] == {
        "line": 2,
        "rule": "bad,",
        "reason": "the rule has an empty term (two commas, or a comma at an end)",
    }
    assert _listed(api, "it") == before


def test_an_import_needs_rules_or_text_but_not_both(api: TestClient) -> None:
    for body in ({"language": "it"}, {"language": "it", "rules": ["a, b"], "text": "a, b"}):
        response = api.post("/synonyms/import", json=body, headers=auth())
        assert response.status_code == 422
        assert "either as a list (rules) or as text (text)" in response.json()["error"]["message"]


def test_a_set_of_ten_thousand_rules_imports_and_one_more_is_refused(api: TestClient) -> None:
    rules = [f"term{index}, synonym{index}" for index in range(10_000)]
    started = time.perf_counter()
    response = api.post("/synonyms/import", json={"language": "nl", "rules": rules},
                        headers=auth())  # fmt: skip
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text
    assert response.json() == {
        "language": "nl", "added": 10_000, "unchanged": 0, "removed": 0, "total": 10_000
    }  # fmt: skip
    assert elapsed < 10, elapsed  # parse, insert and this server's reload of the snapshot
    listed = api.get("/synonyms", params={"language": "nl", "limit": 1}, headers=auth()).json()
    assert listed["total"] == 10_000 and listed["served_rules"] >= 10_000
    for body in (
        {"language": "nl", "rules": ["one, more"]},
        {"rule": "one, more", "language": "nl"},
    ):
        path = "/synonyms/import" if "rules" in body else "/synonyms"
        refused = api.post(path, json=body, headers=auth())
        assert refused.status_code == 422, refused.text
        message = refused.json()["error"]["message"]
        assert "SHELF_SYNONYMS_MAX_RULES" in message and "10000" in message, message
    assert api.get("/synonyms", params={"language": "nl", "limit": 1},
                   headers=auth()).json()["total"] == 10_000  # fmt: skip


def test_an_import_over_the_limit_applies_nothing(api: TestClient) -> None:
    rules = [f"term{index}, synonym{index}" for index in range(10_001)]
    response = api.post("/synonyms/import", json={"language": "pt", "rules": rules},
                        headers=auth())  # fmt: skip
    assert response.status_code == 422
    message = response.json()["error"]["message"]
    assert "would hold 10001 rules" in message and "allows 10000" in message
    assert _listed(api, "pt") == []


def test_replace_mode_makes_the_set_what_the_import_holds(api: TestClient) -> None:
    first = {"language": "fr", "text": "a, b\nc => d\n"}
    assert api.post("/synonyms/import", json=first, headers=auth()).json()["added"] == 2
    kept = _listed(api, "fr")[0]
    other = {"rule": "a, b", "language": "it"}  # another set: untouched
    assert api.post("/synonyms", json=other, headers=auth()).status_code == 201
    second = {"language": "fr", "text": "b, a\ne, f", "replace": True}
    outcome = api.post("/synonyms/import", json=second, headers=auth()).json()
    assert outcome == {"language": "fr", "added": 1, "unchanged": 1, "removed": 1, "total": 2}
    assert [r["rule"] for r in _listed(api, "fr")] == ["a, b", "e, f"]
    assert _listed(api, "fr")[0] == kept  # kept as it was: id, times
    assert [r["rule"] for r in _listed(api, "it")] == ["a, b"]
