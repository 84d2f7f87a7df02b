"""The query budget over HTTP: the answer says how the query fared against its budget, a query
past the absolute length caps is refused naming the limit, and both show in OpenAPI."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


def test_every_answer_says_how_its_query_fared_against_the_budget(client: TestClient) -> None:
    body = client.get("/search", params={"q": "wireless headphones", "locale": "en-US"}).json()
    budget = body["budget"]
    assert budget["cut"] is False and budget["words_dropped"] == []
    assert 2 <= budget["terms"] <= budget["max_terms"]
    assert budget["clauses"] <= budget["max_clauses"] and budget["deadline_ms"] > 0


@pytest.mark.parametrize(
    ("query", "limit"),
    [
        (" ".join(["kaffee"] * 1000), "SHELF_API_MAX_QUERY_CHARS"),  # the 1,000-word query
        ("日" * 400, "SHELF_API_MAX_QUERY_BYTES"),  # under the characters, over the bytes
    ],
    ids=["1000 words", "bytes"],
)
def test_a_query_past_an_absolute_cap_is_refused_naming_the_limit(
    client: TestClient, query: str, limit: str
) -> None:
    response = client.get("/search", params={"q": query})
    assert response.status_code == 422
    assert limit in response.json()["error"]["message"]


def test_openapi_documents_the_budget_and_the_timeout(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert "budget" in schema["components"]["schemas"]["SearchOut"]["properties"]
    assert {"cut", "terms", "max_terms", "clauses", "max_clauses"} <= set(
        schema["components"]["schemas"]["BudgetOut"]["properties"]
    )
    assert "504" in schema["paths"]["/search"]["get"]["responses"]
