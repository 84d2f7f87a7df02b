"""GET /search says which words typo tolerance corrected, and offers "did you mean" when no word
matched (the session's app over the sample catalog)."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_search_reports_the_corrected_words_and_finds_their_products(client: TestClient) -> None:
    typed = client.get("/search", params={"q": "headphnoes", "locale": "en-US", "rerank": "false"})
    exact = client.get("/search", params={"q": "headphones", "locale": "en-US", "rerank": "false"})
    body = typed.json()
    assert body["corrections"] == [{"term": "headphnoes", "to": ["headphones"]}]
    assert body["synonyms"] == [] and body["did_you_mean"] is None
    assert exact.json()["corrections"] == []
    assert body["items"][0]["product_id"] == exact.json()["items"][0]["product_id"]


def test_search_with_no_matching_word_offers_did_you_mean(client: TestClient) -> None:
    params = {"q": "kyeobard", "recall": "bm25", "rerank": "false"}
    body = client.get("/search", params=params).json()
    assert (body["items"], body["total"], body["did_you_mean"]) == ([], 0, "keyboard")
