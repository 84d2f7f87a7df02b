"""POST /rerank: Cohere-style and TEI-style bodies score exactly what the model scores."""

from __future__ import annotations

import math

import pytest
from fastapi.testclient import TestClient

from workers.rerank.model import RerankModel

QUERY = "wireless noise cancelling headphones"
TEXTS = [
    "Over-ear Bluetooth headphones with active noise cancelling, 30 hour battery.",
    "Stainless steel water bottle, 750 ml.",
    "Kabellose Kopfhörer mit Geräuschunterdrückung.",
    "Paperback novel about a lighthouse keeper.",
]


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


@pytest.mark.parametrize("path", ["/rerank", "/v1/rerank", "/v2/rerank"])
def test_cohere_style_scores_are_the_models_sigmoid_best_first(
    client: TestClient, rerank_model: RerankModel, path: str
) -> None:
    documents = [TEXTS[0], {"text": TEXTS[1]}, TEXTS[2], {"text": TEXTS[3]}]
    response = client.post(path, json={"query": QUERY, "documents": documents})
    assert response.status_code == 200, response.text
    body = response.json()
    expected = [_sigmoid(s) for s in rerank_model.score(QUERY, TEXTS)]
    results = body["results"]
    assert [r["index"] for r in results] == sorted(range(4), key=lambda i: -expected[i])
    for result in results:
        assert result["relevance_score"] == pytest.approx(expected[result["index"]], abs=1e-5)
        assert "document" not in result
    assert body["id"] and body["meta"]["api_version"]["version"] in ("1", "2")


def test_cohere_top_n_and_return_documents(client: TestClient) -> None:
    body = client.post(
        "/rerank",
        json={"query": QUERY, "documents": TEXTS, "top_n": 2, "return_documents": True},
    ).json()
    assert len(body["results"]) == 2
    for result in body["results"]:
        assert result["document"] == {"text": TEXTS[result["index"]]}


def test_tei_style_scores_are_normalised_by_default_and_raw_on_request(
    client: TestClient, rerank_model: RerankModel
) -> None:
    logits = rerank_model.score(QUERY, TEXTS)
    normalised = client.post("/rerank", json={"query": QUERY, "texts": TEXTS}).json()
    raw = client.post(
        "/rerank", json={"query": QUERY, "texts": TEXTS, "raw_scores": True, "return_text": True}
    ).json()
    assert isinstance(normalised, list) and len(normalised) == 4
    for rank in normalised:
        assert rank["score"] == pytest.approx(_sigmoid(logits[rank["index"]]), abs=1e-5)
        assert "text" not in rank
    for rank in raw:
        assert rank["score"] == pytest.approx(logits[rank["index"]], abs=1e-5)
        assert rank["text"] == TEXTS[rank["index"]]
    assert [r["score"] for r in raw] == sorted((r["score"] for r in raw), reverse=True)


def test_too_many_documents_are_refused_naming_the_limit(client: TestClient) -> None:
    response = client.post("/rerank", json={"query": "q", "texts": ["x"] * 1001})
    assert response.status_code == 422
    assert "SHELF_API_MAX_RERANK_DOCUMENTS" in response.json()["error"]["message"]


def test_an_overlong_document_is_refused_naming_the_limit(client: TestClient) -> None:
    response = client.post("/rerank", json={"query": "q", "documents": ["x" * 20_001]})
    assert response.status_code == 422
    assert "documents[0] is 20001 characters" in response.json()["error"]["message"]


def test_a_body_with_neither_documents_nor_texts_is_a_422(client: TestClient) -> None:
    response = client.post("/rerank", json={"query": "q"})
    assert response.status_code == 422
    assert "documents" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "named", "not_named"),
    [
        ({"query": "q", "documents": "x"}, "documents", "texts"),  # Cohere shape, bad documents
        ({"query": "q", "documents": [{"text": 5}]}, "documents", "texts"),
        ({"query": "q", "documents": ["a"], "top_n": "many"}, "top_n", "texts"),
        ({"query": "q", "texts": "x"}, "texts", "documents"),  # TEI shape, bad texts
        ({"query": "q", "texts": ["a"], "raw_scores": "sometimes"}, "raw_scores", "documents"),
    ],
)
def test_a_bad_body_is_reported_in_the_shape_the_caller_used(
    client: TestClient, body: dict, named: str, not_named: str
) -> None:
    response = client.post("/rerank", json=body)
    assert response.status_code == 422
    message = response.json()["error"]["message"]
    assert named in message and not_named not in message, message
    assert "Request" not in message, message  # no model class names


@pytest.mark.parametrize(
    "raw",
    [b'{"query": "q", "documents": [\x01]}', b'{"query": "q",', b"not json", b'{"query": "q"}}'],
)
@pytest.mark.parametrize("path", ["/rerank", "/v2/rerank"])
def test_a_body_that_is_not_json_is_a_422_saying_so(
    client: TestClient, raw: bytes, path: str
) -> None:
    response = client.post(path, content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"]["message"].startswith("body: not valid JSON"), response.text
