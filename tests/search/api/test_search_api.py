"""GET /search through the ASGI app: locales, pagination, filters, rerank on and off."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from search.cli.demo import demo_queries


@pytest.mark.parametrize(("query", "locale"), demo_queries())
def test_search_in_each_sample_locale_returns_that_locales_products(
    client: TestClient, query: str, locale: str
) -> None:
    response = client.get("/search", params={"q": query, "locale": locale, "k": 5})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["items"], body
    assert {item["locale"] for item in body["items"]} == {locale}
    assert body["variant"] == "default"
    assert body["request_id"] == response.headers["x-request-id"]
    assert set(body["timings_ms"]) >= {"recall", "rerank", "total"}


def test_detected_language_is_reported_when_no_locale_is_given(client: TestClient) -> None:
    body = client.get("/search", params={"q": "кроссовки для бега"}).json()
    assert body["language"] == "ru" and body["language_detected"] is True
    assert body["product_locale"] is None and body["recall"] == "hybrid"
    assert len({item["locale"] for item in body["items"]}) > 1  # detection restricts nothing
    kept = client.get("/search", params={"q": "кроссовки для бега", "product_locale": "ru"})
    assert {item["locale"] for item in kept.json()["items"]} == {"ru-RU"}


def test_page_two_continues_page_one_without_overlap(client: TestClient) -> None:
    params = {"q": "coffee", "locale": "en-US", "size": 3}
    first = client.get("/search", params={**params, "page": 1}).json()
    second = client.get("/search", params={**params, "page": 2}).json()
    whole = client.get("/search", params={**params, "size": 6, "page": 1}).json()
    ids = [i["product_id"] for i in first["items"] + second["items"]]
    assert ids == [i["product_id"] for i in whole["items"]]
    assert len(set(ids)) == 6
    assert [i["position"] for i in second["items"]] == [4, 5, 6]
    assert first["total"] == second["total"] and first["has_more"] is True


def test_a_page_past_the_end_is_empty(client: TestClient) -> None:
    body = client.get("/search", params={"q": "coffee", "locale": "en", "size": 50, "page": 3})
    assert body.status_code == 200 and body.json()["items"] == []


def test_k_returns_that_many_items_without_pagination(client: TestClient) -> None:
    body = client.get("/search", params={"q": "coffee", "locale": "en", "k": 4}).json()
    assert len(body["items"]) == 4 and body["size"] == 4 and body["page"] == 1


@pytest.mark.parametrize(
    ("params", "check"),
    [
        ({"brand": "copperleaf"}, lambda item: item["title"].startswith("Copperleaf")),
        ({"max_price": 20}, lambda item: item["price"] <= 20),
        ({"min_price": 25, "max_price": 70}, lambda item: 25 <= item["price"] <= 70),
        ({"in_stock": "true"}, lambda item: item["in_stock"] is True),
        ({"in_stock": "false"}, lambda item: item["in_stock"] is False),
        ({"category": "Home & Kitchen"}, lambda item: item["locale"] == "en-US"),
    ],
    ids=["brand", "max_price", "price_range", "in_stock", "out_of_stock", "category"],
)
def test_each_filter_restricts_the_results(client: TestClient, params: dict, check) -> None:
    body = client.get("/search", params={"q": "coffee", "locale": "en-US", "k": 20, **params})
    assert body.status_code == 200, body.text
    items = body.json()["items"]
    assert items and all(check(item) for item in items), items


def test_brand_filter_excludes_other_brands(client: TestClient) -> None:
    every = client.get("/search", params={"q": "coffee", "locale": "en", "k": 20}).json()
    only = client.get(
        "/search", params={"q": "coffee", "locale": "en", "k": 20, "brand": "Copperleaf"}
    ).json()
    assert len(only["items"]) < len(every["items"])


@pytest.mark.parametrize("recall", ["bm25", "hybrid"])
def test_rerank_false_keeps_recall_order_with_null_rerank_scores(
    client: TestClient, recall: str
) -> None:
    params = {"q": "coffee", "locale": "en", "rerank": "false", "recall": recall}
    body = client.get("/search", params=params).json()
    finals = [item["final_score"] for item in body["items"]]
    assert finals == sorted(finals, reverse=True)
    assert all(item["rerank_score"] is None for item in body["items"])
    if recall == "bm25":
        assert finals == [item["bm25_score"] for item in body["items"]]
        assert all(item["dense_rank"] is None for item in body["items"])
    assert body["reranked"] is False and "rerank" not in body["timings_ms"]


def test_locale_and_product_locale_together_are_refused_naming_both(client: TestClient) -> None:
    response = client.get("/search", params={"q": "coffee", "locale": "en", "product_locale": "de"})
    assert response.status_code == 422
    assert "product_locale" in response.json()["error"]["message"]


def test_an_unknown_recall_mode_is_a_422_naming_the_choices(client: TestClient) -> None:
    response = client.get("/search", params={"q": "coffee", "recall": "vector"})
    assert response.status_code == 422
    assert "recall" in response.json()["error"]["message"]


# Every kind of language tag Shelf cannot analyse a query as: unknown, unsupported, malformed,
# a script the language is not written in. (en-XX is well-formed: XA-XZ are private-use regions.)
BAD_LANGS = ["xx", "sv", "zz-Latn", "123", "ja-Latn", "de--DE", "x-private", "en-US-"]


@pytest.mark.parametrize("lang", BAD_LANGS)
def test_a_lang_shelf_cannot_analyse_is_a_422_naming_lang(client: TestClient, lang: str) -> None:
    response = client.get("/search", params={"q": "coffee", "lang": lang})
    assert response.status_code == 422, response.text
    message = response.json()["error"]["message"]
    assert message.startswith("lang: ") and repr(lang) in message, message


@pytest.mark.parametrize("lang", ["de", "de-DE", "de_ch", "zh-Hant-TW", "EN"])
def test_a_lang_in_any_spelling_of_a_supported_language_is_taken(
    client: TestClient, lang: str
) -> None:
    response = client.get("/search", params={"q": "coffee", "lang": lang, "rerank": "false"})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("page", [0, -1])
def test_a_page_below_one_is_a_422_saying_where_pages_start(client: TestClient, page: int) -> None:
    response = client.get("/search", params={"q": "coffee", "page": page})
    assert response.status_code == 422
    message = response.json()["error"]["message"]
    assert message.startswith("page must be between 1 and") and "Narrow" not in message, message


def test_reranked_items_are_ordered_by_final_score_equal_to_rerank_score(
    client: TestClient,
) -> None:
    body = client.get("/search", params={"q": "coffee", "locale": "en", "k": 10}).json()
    finals = [item["final_score"] for item in body["items"]]
    assert finals == [item["rerank_score"] for item in body["items"]]
    assert finals == sorted(finals, reverse=True)


def test_a_valid_caller_request_id_is_kept_and_an_invalid_one_replaced(
    client: TestClient,
) -> None:
    kept = client.get("/search", params={"q": "coffee"}, headers={"X-Request-ID": "abc-123"})
    assert kept.json()["request_id"] == "abc-123" == kept.headers["x-request-id"]
    replaced = client.get("/search", params={"q": "coffee"}, headers={"X-Request-ID": "a b\x7f"})
    assert replaced.headers["x-request-id"] != "a b\x7f"
    assert len(replaced.headers["x-request-id"]) == 32


def test_a_search_that_queued_too_long_is_shed_with_503_naming_the_setting(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time as real_time

    class TenSecondsLater:
        @staticmethod
        def monotonic() -> float:
            return real_time.monotonic() + 10  # as if the request waited 10 s for a thread

    monkeypatch.setattr("search.api.middleware.admission.time", TenSecondsLater)
    response = client.get("/search", params={"q": "kaffee", "locale": "de"})

    assert response.status_code == 503
    assert "SHELF_API_MAX_QUEUE_WAIT_MS=500" in response.json()["error"]["message"]
