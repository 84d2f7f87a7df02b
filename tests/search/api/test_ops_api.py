"""/healthz, /readyz and /metrics."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_healthz_answers_ok(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_reports_each_part_and_is_200_when_all_are_ok(client: TestClient) -> None:
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 200, body
    assert set(body["checks"]) == {
        *("index", "model", "redis", "event_store", "vectors", "spool"),
        *("synonyms", "rules", "experiments", "suggestions"),  # read from the event store
    }
    assert all(check["ok"] for check in body["checks"].values()), body
    assert body["checks"]["event_store"]["required"] is False  # search does not need it
    assert body["checks"]["index"]["detail"] == "640 products"
    assert body["vectors_pending"] == 0
    assert body["checks"]["vectors"]["detail"].startswith("640 products with a vector, 0 without")
    assert "loaded" in body["checks"]["model"]["detail"]
    assert body["checks"]["redis"]["required"] is False


def test_metrics_expose_requests_stage_latency_and_queues(client: TestClient) -> None:
    client.get("/search", params={"q": "coffee", "locale": "en"})
    text = client.get("/metrics").text
    for name in (
        'shelf_http_requests_total{method="GET",route="/search",status="200"}',
        'shelf_search_stage_seconds_bucket{le="0.05",stage="recall"}',
        'shelf_search_stage_seconds_count{stage="rerank"}',
        "shelf_score_cache_lookups_total",
        "shelf_rerank_pairs_scored_total",
        "shelf_rerank_queue_depth",
        "shelf_impressions_dropped_total",
        "shelf_degraded_responses_total",
        "shelf_spool_depth",
        "shelf_spool_oldest_age_seconds",
    ):
        assert name in text, name
