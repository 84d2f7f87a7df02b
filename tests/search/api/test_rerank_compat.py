"""POST /rerank speaks Cohere's and TEI's dialects: object documents, rank_fields,
truncation_direction; the shared case 23-cohere-object-documents posted as it is. The real
``cohere`` SDK against a real server: test_rerank_cohere_sdk.py."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from workers.rerank.model import RerankModel

CASE = Path(__file__).with_name("data") / "cohere_case"
QUERY = "coffee grinder"


def _case(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((CASE / name).read_text())
    return body


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


@pytest.mark.parametrize("path", ["/rerank", "/v1/rerank", "/v2/rerank"])
def test_object_documents_come_back_whole_with_return_documents(
    client: TestClient, path: str
) -> None:
    body = _case("object_documents.json")
    response = client.post(path, json=body)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert sorted(r["index"] for r in results) == [0, 1]
    for result in results:
        assert result["document"] == body["documents"][result["index"]]


@pytest.mark.parametrize(
    ("rank_fields", "documents", "scored"),
    [
        (["title", "body"], [{"title": "Burr grinder", "body": "40 settings"}],
         "title: Burr grinder\nbody: 40 settings"),
        (["body", "title"], [{"title": "Burr grinder", "body": "40 settings"}],
         "body: 40 settings\ntitle: Burr grinder"),  # rank_fields order, not the object's
        (["title", "specs"], [{"title": "Kettle", "specs": {"litres": 1.2}, "id": 7}],
         'title: Kettle\nspecs: {"litres": 1.2}'),  # non-string values as JSON
        (["title"], ["a plain string document"], "a plain string document"),
    ],
)  # fmt: skip
def test_rank_fields_are_joined_as_field_lines_in_their_order(
    client: TestClient,
    rerank_model: RerankModel,
    rank_fields: list[str],
    documents: list[Any],
    scored: str,
) -> None:
    body = {"query": QUERY, "documents": documents, "rank_fields": rank_fields}
    response = client.post("/v1/rerank", json=body)
    assert response.status_code == 200, response.text
    expected = _sigmoid(rerank_model.score(QUERY, [scored])[0])
    assert response.json()["results"][0]["relevance_score"] == pytest.approx(expected, abs=1e-5)


def test_the_shared_rank_fields_case_scores_the_named_fields(
    client: TestClient, rerank_model: RerankModel
) -> None:
    body = _case("rank_fields.json")
    results = client.post("/rerank", json=body).json()["results"]
    texts = [f"title: {d['title']}\nbody: {d['body']}" for d in body["documents"]]
    logits = rerank_model.score(body["query"], texts)
    for result in results:
        expected = _sigmoid(logits[result["index"]])
        assert result["relevance_score"] == pytest.approx(expected, abs=1e-5)
        assert result["document"] == body["documents"][result["index"]]


@pytest.mark.parametrize(
    ("documents", "rank_fields", "named"),
    [
        ([{"title": "a", "body": "b"}, {"title": "c"}], ["title", "body"], "documents[1]"),
        ([{"title": "a"}], ["title", "body"], "'body'"),
        ([{"title": "a"}], None, "'text'"),
        ([{"text": 5}], None, "'text'"),
    ],
)
def test_a_missing_field_is_a_422_naming_it(
    client: TestClient, documents: list[Any], rank_fields: list[str] | None, named: str
) -> None:
    body = {"query": QUERY, "documents": documents, "rank_fields": rank_fields}
    response = client.post("/rerank", json=body)
    assert response.status_code == 422
    assert named in response.json()["error"]["message"]


def test_tei_left_truncation_is_refused_naming_the_field(client: TestClient) -> None:
    response = client.post("/rerank", json=_case("tei_left.json"))
    assert response.status_code == 422
    message = response.json()["error"]["message"]
    assert "truncation_direction" in message and "'Left'" in message


@pytest.mark.parametrize("direction", ["Right", "right"])
def test_tei_right_truncation_is_accepted(client: TestClient, direction: str) -> None:
    body = {**_case("tei_left.json"), "truncation_direction": direction}
    response = client.post("/rerank", json=body)
    assert response.status_code == 200, response.text
    assert len(response.json()) == 2
