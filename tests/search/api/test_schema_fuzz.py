"""Schemathesis fuzzes the app against its own OpenAPI schema: no 5xx, no off-schema answer.

Cases are generated from the schema and sent through the session's TestClient (the app already
started once), then validated by schemathesis' own checks.
"""

from __future__ import annotations

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from search.api.app import create_app
from tests.search.api.conftest import API_KEY

OPERATIONS = [
    (method.upper(), path)
    for path, methods in create_app().openapi()["paths"].items()
    for method in methods
]


@pytest.mark.slow
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_the_api_never_answers_5xx_nor_off_its_schema(
    client: TestClient, method: str, path: str
) -> None:
    schema = schemathesis.openapi.from_dict(client.app.openapi())  # type: ignore[attr-defined]
    operation = schema[path][method]
    statuses: list[int] = []

    @given(data=st.data())
    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
    def fuzz(data: st.DataObject) -> None:
        case = data.draw(operation.as_strategy())
        kwargs = case.as_transport_kwargs(headers={"X-API-Key": API_KEY})
        kwargs.pop("base_url", None)
        response = client.request(
            case.method,
            case.formatted_path,
            params=kwargs.get("params"),
            headers=kwargs.get("headers"),
            content=kwargs.get("data"),
            json=kwargs.get("json"),
        )
        statuses.append(response.status_code)
        assert response.status_code < 500, (case.method, case.formatted_path, response.text)
        # Raises, naming the check, on a 5xx or an answer that breaks the operation's schema.
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

    fuzz()
    assert statuses, "schemathesis generated no request for this operation"
    # The session's app serves other tests: leave it no rule and no synonym (a fuzzed synonym
    # would widen their searches).
    headers = {"X-API-Key": API_KEY}
    if path.startswith("/rules"):
        for rule in client.get("/rules", headers=headers).json()["rules"]:
            client.delete(f"/rules/{rule['id']}", headers=headers)
    if path.startswith("/synonyms"):
        for synonym in client.get("/synonyms", headers=headers).json()["synonyms"]:
            client.delete(f"/synonyms/{synonym['id']}", headers=headers)
        assert client.get("/synonyms", headers=headers).json()["total"] == 0
