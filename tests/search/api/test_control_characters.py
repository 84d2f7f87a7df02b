"""A NUL or any other control character in any field of any endpoint is a 4xx naming the field,
and costs no other row: the fields are read from the app's own OpenAPI schema, so a new field or
endpoint is covered without touching this file. Runs on the SQLite and the PostgreSQL event store.

Every string of every request body must be marked identifier or free text in the schema
(``search.query.input_text``): identifiers refuse every control character, free text keeps tab,
newline and carriage return. Query parameters are identifiers unless marked free text; path
parameters always are.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from search.api.app import create_app
from search.query.input_text import SCHEMA_KEY
from tests.search.api.conftest import auth

SCHEMA = create_app().openapi()
# Every kind of control character: C0 (NUL, SOH, ESC, US), DEL, C1 (NEL, APC), a lone surrogate.
CONTROLS = ["\x00", "\x01", "\x1b", "\x1f", "\x7f", "\x85", "\x9f", "\ud800"]
WHITESPACE = ["\t", "\n", "\r"]  # refused in identifiers, kept in free text

Field = tuple[str, str, str, tuple[Any, ...], str | None]  # method, path, where, location, kind


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = SCHEMA["components"]["schemas"][name]
    return schema


def _strings(schema: dict[str, Any], at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, str | None]]:
    """(location, kind) of every string a body of ``schema`` can hold: kind ``identifier`` or
    ``free`` as marked, ``parsed`` for a choice or a date, None when unmarked."""
    schema = _resolve(schema)
    if SCHEMA_KEY in schema:
        yield at, schema[SCHEMA_KEY]
    elif "anyOf" in schema:
        for branch in schema["anyOf"]:
            yield from _strings(branch, at)
    elif schema.get("type") == "string":
        parsed = {"enum", "const", "format"} & schema.keys()  # a choice, a date: parsed, not kept
        yield at, "parsed" if parsed else None
    elif schema.get("type") == "object":
        for name, prop in schema.get("properties", {}).items():
            yield from _strings(prop, (*at, name))
    elif schema.get("type") == "array":
        yield from _strings(schema["items"], (*at, 0))


def _fields() -> list[Field]:
    fields: list[Field] = []
    for path, operations in SCHEMA["paths"].items():
        for method, operation in operations.items():
            for param in operation.get("parameters", []):
                kinds = {kind for _, kind in _strings(param["schema"])}
                if kinds:  # a string parameter: an identifier unless marked free text
                    marked = "free" if "free" in kinds else "identifier"
                    fields.append((method, path, param["in"], (param["name"],), marked))
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                for location, kind in dict.fromkeys(_strings(body["schema"])):
                    fields.append((method, path, "body", location, kind))
    return fields


FIELDS = _fields()


def _id(field: Field) -> str:
    method, path, where, location, _ = field
    return f"{method.upper()} {path} {where}:{'.'.join(map(str, location))}"


def test_the_schema_walk_finds_every_kind_of_field() -> None:
    found = {_id(f) for f in FIELDS}
    for expected in (
        "GET /search query:user_id",
        "GET /search query:q",
        "GET /experiments/{experiment_id} path:experiment_id",
        "POST /events body:user_id",
        "POST /events body:0.user_id",
        "POST /experiments body:variants.0.overrides.model",
        "POST /rerank body:documents.0",
        "POST /rerank body:texts.0",
    ):
        assert expected in found, sorted(found)


def test_every_request_body_string_is_marked_identifier_or_free_text() -> None:
    unmarked = [_id(f) for f in FIELDS if f[2] == "body" and f[4] is None]
    assert not unmarked, (
        "type these fields Identifier or FreeText (search.query.input_text) so their control "
        f"characters are refused: {unmarked}"
    )


class Requests:
    """Valid requests for every operation, into which one bad value is put."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        search = client.get("/search", params={"q": "coffee", "locale": "en", "k": 3}).json()
        self.search = search
        self.draft = f"draft-{uuid.uuid4().hex[:8]}"
        body = {"id": self.draft, "variants": [{"name": "a"}, {"name": "b"}]}
        assert client.post("/experiments", json=body, headers=auth()).status_code == 201
        rule = {"rule": f"cc{uuid.uuid4().hex[:8]}, controlled", "language": "en"}
        created = client.post("/synonyms", json=rule, headers=auth())
        assert created.status_code == 201, created.text
        self.synonym_id = str(created.json()["id"])

    def event(self) -> dict[str, Any]:
        item = self.search["items"][0]
        return {
            "event_id": uuid.uuid4().hex,
            "type": "click",
            "request_id": self.search["request_id"],
            "product_id": item["product_id"],
            "position": item["position"],
            "session_id": "s-1",
            "user_id": "u-1",
            "currency": "EUR",
            "ts": "2026-01-01T00:00:00Z",
        }

    def bodies(self, method: str, path: str) -> list[Any]:
        """Valid bodies, one per shape the operation takes."""
        cohere = {
            "query": "coffee",
            "documents": ["beans", {"text": "grinder"}],
            "rank_fields": ["text"],
            "model": "default",
        }
        tei = {"query": "coffee", "texts": ["beans"], "truncation_direction": "Right"}
        variants = [{"name": "a", "overrides": {"model": "m"}}, {"name": "b"}]
        experiment = {
            "id": f"exp-{uuid.uuid4().hex[:8]}",
            "description": "d",
            "variants": variants,
            "control": "a",
            "status": "draft",
        }
        patch = {"description": "d", "variants": variants, "control": "a", "status": "draft"}
        # A rule refused after validation (an unknown product), so this test stores none.
        rule = {
            "id": "cc-rule",
            "description": "d",
            "condition": {"match": "equals", "phrase": "cc rule", "language": "en"},
            "actions": {
                "pins": [{"product_id": "cc-no-such-product", "position": 1}],
                "hide": ["cc-no-such-product-2"],
                "boosts": [{"field": "brand", "value": "acme", "factor": 2}],
            },
            "start": "2026-01-01T00:00:00Z",
            "end": "2027-01-01T00:00:00Z",
        }
        bodies: dict[tuple[str, str], list[Any]] = {
            ("post", "/rerank"): [cohere, tei],
            ("post", "/v1/rerank"): [cohere],
            ("post", "/v2/rerank"): [cohere],
            ("post", "/events"): [self.event(), [self.event(), self.event()]],
            ("post", "/experiments"): [experiment],
            ("patch", "/experiments/{experiment_id}"): [patch],
            ("post", "/synonyms"): [{"rule": "ccalpha => ccbeta", "language": "en"}],
            ("put", "/synonyms/{synonym_id}"): [{"rule": "ccalpha => ccgamma", "language": "en"}],
            ("post", "/synonyms/import"): [
                {"rules": ["ccalpha, ccbeta"], "language": "en"},
                {"text": "ccalpha, ccbeta", "language": "en"},
            ],
            ("post", "/experiments/plan"): [{"metric": "ctr", "mde": 0.1, "baseline": 0.1}],
            ("post", "/rules"): [rule],
            ("put", "/rules/{rule_id}"): [rule],
            ("post", "/suggest/blocks"): [{"phrase": "cc block"}],
        }
        return bodies[(method, path)]

    def send(self, field: Field, value: str) -> Any:
        """The operation with ``value`` in ``field`` and every other input valid."""
        method, path, where, location, _ = field
        search = {"q": "coffee", "locale": "en", "k": "3"}
        params: dict[str, str] = search if path == "/search" else {}
        path_value = self.draft
        body: Any = None
        if where == "query":
            params[location[0]] = value
        elif where == "path":
            path_value = value
        else:
            body = _with(self._body_for(method, path, location), location, value)
        url = path.replace("{experiment_id}", _quote(path_value))
        url = url.replace("{synonym_id}", self.synonym_id)
        url = url.replace("{rule_id}", _quote(path_value)) + _query(params)
        content = None if body is None else json.dumps(body).encode()  # \ud800 as an escape
        headers = {**auth(), "Content-Type": "application/json"}
        return self.client.request(method.upper(), url, content=content, headers=headers)

    def _body_for(self, method: str, path: str, location: tuple[Any, ...]) -> Any:
        for body in self.bodies(method, path):
            if isinstance(body, list) == isinstance(location[0], int) and _fits(body, location):
                return copy.deepcopy(body)
        raise AssertionError(f"no valid {method} {path} body has {location}")


def _fits(body: Any, location: tuple[Any, ...]) -> bool:
    head = location[0]
    return isinstance(head, int) or head in body


def _with(body: Any, location: tuple[Any, ...], value: str) -> Any:
    target = body
    for step, following in zip(location, location[1:], strict=False):
        if isinstance(target, dict) and step not in target:
            target[step] = [] if isinstance(following, int) else {}
        target = target[step]
    last = location[-1]
    if isinstance(target, list) and last >= len(target):
        target.append(value)
    else:
        target[last] = value
    return body


def _quote(value: str) -> str:
    return quote(value.encode("utf-8", errors="surrogatepass"), safe="")


def _query(params: dict[str, str]) -> str:
    if not params:
        return ""
    return "?" + "&".join(f"{_quote(k)}={_quote(v)}" for k, v in params.items())


@pytest.fixture(scope="module")
def requests_by_store() -> dict[int, Requests]:
    return {}


@pytest.fixture
def requests(store_client: TestClient, requests_by_store: dict[int, Requests]) -> Requests:
    key = id(store_client)
    if key not in requests_by_store:
        requests_by_store[key] = Requests(store_client)
    return requests_by_store[key]


def _refused_naming(response: Any, field: Field, char: str) -> None:
    assert 400 <= response.status_code < 500, (repr(char), response.status_code, response.text)
    message = response.json()["error"]["message"]
    _, _, where, location, _ = field
    name = str(location[-1]) if where != "body" or isinstance(location[-1], str) else ""
    shown = ".".join(map(str, location[1:] if isinstance(location[0], int) else location))
    assert name in message and (where != "body" or shown in message), (repr(char), message)
    if where != "body" and field[4] == "identifier" and "UTF-8" not in message:
        assert "identifiers take no control characters" in message, message


@pytest.mark.parametrize("field", FIELDS, ids=[_id(f) for f in FIELDS])
def test_a_control_character_in_any_field_is_a_4xx_naming_it(
    requests: Requests, field: Field
) -> None:
    method, path, where, location, kind = field
    refused = CONTROLS + (WHITESPACE if kind in ("identifier", "parsed") else [])
    if where == "path":
        refused.remove("\ud800")  # a URL cannot carry one: it decodes to U+FFFD
    for char in refused:
        response = requests.send(field, f"a{char}b")
        if isinstance(location[0], int):  # a batch: the bad event is listed, the other stored
            assert response.status_code == 200, (repr(char), response.text)
            answer = response.json()
            assert (answer["stored"], answer["rejected_count"]) == (1, 1), answer
            (rejected,) = answer["rejected"]
            assert rejected["index"] == 0 and location[-1] in rejected["reason"], rejected
            continue
        _refused_naming(response, field, char)


@pytest.mark.parametrize(
    "field", [f for f in FIELDS if f[4] == "free"], ids=[_id(f) for f in FIELDS if f[4] == "free"]
)
def test_free_text_keeps_tab_newline_and_carriage_return(requests: Requests, field: Field) -> None:
    for char in WHITESPACE:
        response = requests.send(field, f"coffee{char}beans")
        assert "control character" not in response.text, (repr(char), response.text)
        assert response.status_code < 500, response.text
