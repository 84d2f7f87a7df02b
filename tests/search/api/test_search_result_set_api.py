"""``GET /search`` as a results page: total, facets, sorts, deep pages and the 422s that name
the parameter and its allowed values (the real app, sample index, tiny model)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from search.api.app import Components


def _search(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get("/search", params={"q": "kopfhörer", **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _every_page(client: TestClient, size: int, **params: Any) -> list[dict[str, Any]]:
    items, page = [], 1
    while True:
        body = _search(client, page=page, size=size, **params)
        items += body["items"]
        if not body["has_more"]:
            return items
        page += 1


def test_the_total_is_the_match_set_and_pages_walk_all_of_it(client: TestClient) -> None:
    first = _search(client, page=1, size=3)
    assert first["total_exact"] is True and first["total"] > first["candidates"] // 10
    items = _every_page(client, 3)
    ids = [item["product_id"] for item in items]
    assert len(ids) == len(set(ids)) == first["total"]
    assert [item["position"] for item in items] == list(range(1, len(ids) + 1))


def test_facets_are_counted_and_a_value_applied_finds_its_count(client: TestClient) -> None:
    body = _search(client, facets="category,brand,price,in_stock", size=5)
    assert list(body["facets"]) == ["category", "brand", "price", "in_stock"]
    for facet, values in body["facets"].items():
        for value in values[:3]:
            narrowed = _search(client, **{facet: value["value"]}, size=5)
            assert narrowed["total"] == value["count"], (facet, value)


def test_price_asc_pages_are_in_non_decreasing_price_ties_by_id(client: TestClient) -> None:
    items = _every_page(client, 4, sort="price_asc")
    keys = [(item["price"], item["product_id"]) for item in items]
    assert keys == sorted(keys) and len(keys) > 4
    assert all(item["rerank_score"] is None for item in items)  # other sorts are not reranked


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"sort": "cheapest"}, ["sort", "relevance", "price_asc", "price_desc", "newest"]),
        ({"facets": "brand,colour"}, ["facets", "colour", "category", "in_stock"]),
        ({"page": 1001, "size": 10}, ["SHELF_API_MAX_RESULT_WINDOW", "page", "1000"]),
        ({"page": 0}, ["page"]),
        ({"size": 101}, ["size", "between 1 and 100", "SHELF_API_MAX_PAGE_SIZE"]),
        ({"k": 5000}, ["k", "SHELF_API_MAX_K"]),
        ({"price": "cheap"}, ["price", "LOW-HIGH"]),
        ({"price": "50-10"}, ["price", "LOW-HIGH"]),
        ({"price": "10-50", "max_price": 40}, ["price", "max_price"]),
    ],
)
def test_bad_result_set_input_is_a_422_naming_the_parameter_and_allowed_values(
    client: TestClient, params: dict[str, Any], names: list[str]
) -> None:
    response = client.get("/search", params={"q": "coffee", **params})
    assert response.status_code == 422, response.text
    message = response.json()["error"]["message"]
    for name in names:
        assert name in message, message


def test_each_page_is_an_impression_with_its_page_and_sort(
    client: TestClient, components: Components
) -> None:
    second = _search(client, page=2, size=2, sort="price_desc")
    components.impressions.flush()
    searches = components.event_log.tables.searches  # type: ignore[attr-defined]
    with components.event_log.engine.connect() as conn:  # type: ignore[attr-defined]
        row = conn.execute(
            sa.select(searches.c.page, searches.c.sort, searches.c.first_position).where(
                searches.c.request_id == second["request_id"]
            )
        ).one()
    assert tuple(row) == (2, "price_desc", 3)
