"""The rules audit records who made a change as the API key's identity, never a header a client
sets: ``X-Shelf-Actor`` is kept as a free-text note at most."""

from __future__ import annotations

import hashlib
import uuid

import pytest
from fastapi.testclient import TestClient

from search.api.security import key_identity
from tests.conftest import API_KEY
from tests.search.api.conftest import auth

RULE = {
    "condition": {"match": "equals", "phrase": "audit probe"},
    "actions": {"hide": ["en-us-0002"]},
}


def test_the_key_identity_is_a_short_sha256_never_the_key() -> None:
    identity = key_identity(API_KEY)
    assert identity == "key:" + hashlib.sha256(API_KEY.encode()).hexdigest()[:8]
    assert API_KEY not in identity and len(identity) == 12


# (X-Shelf-Actor as sent, the note the audit keeps)
HEADERS: list[tuple[str | None, str | None]] = [
    (None, None),
    ("ana", "ana"),
    ("admin", "admin"),
    ("key:00000000", "key:00000000"),  # another key's identity: a note, never the actor
    (API_KEY, API_KEY),  # even the key itself cannot make the actor anything but its hash
    ("  spaced  ", "spaced"),
]


@pytest.mark.parametrize(("header", "note"), HEADERS)
def test_the_audit_actor_is_the_key_whatever_the_header_says(
    client: TestClient, header: str | None, note: str | None
) -> None:
    rule_id = f"audit-{uuid.uuid4().hex[:8]}"
    headers = auth() | ({} if header is None else {"X-Shelf-Actor": header})
    created = client.post("/rules", json={"id": rule_id, **RULE}, headers=headers)
    assert created.status_code == 201, created.text
    deleted = client.delete(f"/rules/{rule_id}", headers=headers)
    assert deleted.status_code == 200, deleted.text
    trail = client.get(f"/rules/{rule_id}/audit", headers=auth()).json()["entries"]
    assert [(e["action"], e["actor"], e["note"]) for e in trail] == [
        ("delete", key_identity(API_KEY), note),
        ("create", key_identity(API_KEY), note),
    ]


def test_a_bad_note_is_a_422_naming_the_header(client: TestClient) -> None:
    headers = auth() | {"X-Shelf-Actor": "x" * 129}
    answer = client.post("/rules", json={"id": "audit-long", **RULE}, headers=headers)
    assert answer.status_code == 422
    assert answer.json()["error"]["message"].startswith("X-Shelf-Actor")
