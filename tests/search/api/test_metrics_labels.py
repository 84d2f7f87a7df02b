"""``/metrics`` stays bounded whatever callers send: made-up methods and paths add no series."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

STANDARD = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}


def _metrics(client: TestClient) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200
    return response.text


def _made_up(client: TestClient, start: int, count: int) -> None:
    for n in range(start, start + count):
        assert client.request(f"MADEUP{n}", "/search").status_code == 405
        if n % 5 == 0:  # and made-up paths, with made-up methods and without
            assert client.request(f"X{n}", f"/made-up/{n}").status_code in (404, 405)
            assert client.get(f"/made-up/path-{n}").status_code == 404


def test_made_up_methods_and_paths_keep_metrics_bounded(client: TestClient) -> None:
    client.get("/search", params={"q": "coffee", "locale": "en", "k": 3})
    before = len(_metrics(client))
    _made_up(client, 0, 10)  # the first ones add the 'other' and 'unmatched' series once
    warmed = len(_metrics(client))
    _made_up(client, 10, 1_000)
    text = _metrics(client)
    # 1,000 more made-up methods (and 400 made-up paths) add no series: only counts grow (one
    # series each would add far more than 300 characters).
    assert len(text) - warmed < 300, (before, warmed, len(text))
    assert len(text) < 1.5 * before, (before, len(text))
    assert "MADEUP" not in text and "made-up" not in text
    methods = set(re.findall(r'shelf_http_requests_total\{method="([^"]+)"', text))
    assert "other" in methods and methods <= STANDARD | {"other"}
    routes = set(re.findall(r'route="([^"]+)"', text))
    assert {"unmatched", "/search"} <= routes, routes
