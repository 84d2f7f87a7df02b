"""Hostile inputs get a clear 4xx naming the problem, never a 5xx."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.search.api.conftest import auth


def _error(response) -> str:  # type: ignore[no-untyped-def]
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    return str(response.json()["error"]["message"])


def test_a_100_kb_query_is_refused_naming_the_character_limit(client: TestClient) -> None:
    # The HTTP client refuses URLs over 64 KB itself: the 100 KB query goes in a /rerank body.
    message = _error(client.post("/rerank", json={"query": "a" * 100_000, "texts": ["x"]}))
    assert "query is 100000 characters; the limit is 500 (SHELF_API_MAX_QUERY_CHARS)" in message
    message = _error(client.get("/search", params={"q": "a" * 60_000}))
    assert "q is 60000 characters; the limit is 500" in message


def test_a_query_over_the_byte_limit_is_refused_naming_it(client: TestClient) -> None:
    message = _error(client.get("/search", params={"q": "😀" * 300}))
    assert "1200 bytes in UTF-8; the limit is 1024 (SHELF_API_MAX_QUERY_BYTES)" in message


@pytest.mark.parametrize("q", ["coffee\x00", "cof\x1bfee", "\x7f"])
def test_nul_and_control_characters_are_refused_naming_the_character(
    client: TestClient, q: str
) -> None:
    message = _error(client.get("/search", params={"q": q}))
    assert "control character U+00" in message


def test_invalid_utf8_in_the_query_string_is_refused(client: TestClient) -> None:
    message = _error(client.get("/search?q=caf%C3%28%FF"))
    assert "'q' is not valid UTF-8" in message


@pytest.mark.parametrize("q", ["title:foo AND *:*", '{"q": {"$ne": null}}', "coffee) OR (1=1"])
def test_lucene_and_json_syntax_is_searched_as_plain_words(client: TestClient, q: str) -> None:
    # Query syntax is text to Shelf: it is never interpreted, so it is answered like any words.
    response = client.get("/search", params={"q": q, "locale": "en"})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("q", ["*:*", "{}", "[]"])
def test_a_query_of_syntax_only_is_refused_as_having_no_words(client: TestClient, q: str) -> None:
    assert "no searchable words" in _error(client.get("/search", params={"q": q}))


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"k": -1}, "k must be between 1 and 200 (SHELF_API_MAX_K); got -1"),
        ({"k": 10**9}, "k must be between 1 and 200"),
        ({"k": 10**30}, "k must be between 1 and 200"),
        ({"size": 0}, "size must be between 1 and 100 (SHELF_API_MAX_PAGE_SIZE)"),
        ({"page": -3}, "page must be between 1"),
        ({"k": "ten"}, "k: Input should be a valid integer"),
        ({"locale": "xx-XX"}, "unknown locale 'xx-XX'"),
        ({"min_price": -1}, "min_price must be a non-negative number"),
        ({"min_price": "nan"}, "min_price:"),
        ({"min_price": 9, "max_price": 1}, "min_price 9.0 is above max_price 1.0"),
        ({"brand": "  "}, "brand must name a brand"),
        ({"q": ""}, "query is empty"),
    ],
)
def test_bad_parameters_are_refused_naming_them(
    client: TestClient, params: dict, expected: str
) -> None:
    response = client.get("/search", params={"q": "coffee", **params})
    assert response.status_code == 422
    assert expected in _error(response)


def test_a_missing_query_is_a_422_naming_q(client: TestClient) -> None:
    assert _error(client.get("/search")).startswith("q: Field required")


def test_a_body_over_the_limit_is_413_naming_it(client: TestClient) -> None:
    body = b'{"query": "q", "texts": ["' + b"x" * 2_000_000 + b'"]}'
    response = client.post("/rerank", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert "SHELF_API_MAX_BODY_BYTES" in response.json()["error"]["message"]


def test_a_streamed_body_over_the_limit_is_413(client: TestClient) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"query": "q", "texts": ["'
        for _ in range(40):
            yield b"x" * 50_000
        yield b'"]}'

    response = client.post("/events", content=chunks(), headers=auth())
    assert response.status_code == 413


def test_malformed_json_is_a_422(client: TestClient) -> None:
    response = client.post(
        "/events", content=b"{not json", headers={**auth(), "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert "JSON" in _error(response)


def test_an_unknown_path_is_a_404_in_the_error_envelope(client: TestClient) -> None:
    response = client.get("/nope")
    assert response.status_code == 404 and response.json()["error"]["type"] == "NotFound"
