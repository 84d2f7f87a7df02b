"""ElasticsearchRecall's match-set round trips against the fake Elasticsearch of
``test_elastic_fake_server``: which requests go out, with which bodies, and how answers map."""

from __future__ import annotations

import json
from typing import Any

from search.recall import SearchFilters
from search.recall.elastic.backend import ElasticsearchRecall
from search.recall.elastic.facets import entries_body, facets_body
from search.recall.facets import FacetValue, MatchQuery
from tests.search.test_elastic_fake_server import (  # noqa: F401  (fixtures)
    FakeElasticsearch,
    fake_url,
    recall,
)

MATCH = MatchQuery("mug", None, ("n1",), SearchFilters(brand="Acme"))
SEARCH = "POST /shelf-products/_search"


def _hit(pid: str, price: float) -> dict[str, Any]:
    return {"_id": pid, "_score": 1.0, "fields": {"price": [price]}, "sort": [pid]}


def test_fake_server_every_member_comes_by_search_after_in_batches(
    recall: ElasticsearchRecall,  # noqa: F811
) -> None:
    batches = iter([[_hit(f"p{i}", 1.0) for i in range(5000)], [_hit("q", 2.0)]])
    FakeElasticsearch.routes[SEARCH] = lambda raw: (200, {"hits": {"hits": next(batches)}})
    entries = recall.match_entries(MATCH)
    assert len(entries) == 5001 and entries[-1].product_id == "q"
    bodies = [json.loads(raw) for raw in FakeElasticsearch.bodies]
    assert bodies == [entries_body(MATCH), entries_body(MATCH, "p4999")]


def test_fake_server_total_and_facets_are_one_size_zero_search(
    recall: ElasticsearchRecall,  # noqa: F811
) -> None:
    answer = {
        "hits": {"total": {"value": 10_000, "relation": "gte"}, "hits": []},
        "aggregations": {
            "brand": {"values": {"buckets": [{"key": "Acme", "doc_count": 12}]}},
        },
    }
    FakeElasticsearch.routes[SEARCH] = lambda raw: (200, answer)
    assert recall.match_count(MATCH) == (10_000, False)
    counts = recall.facet_counts(MATCH, ["brand"], price_edges=(10.0,), max_values=5)
    assert counts == {"brand": [FacetValue("Acme", 12)]}
    bodies = [json.loads(raw) for raw in FakeElasticsearch.bodies]
    assert bodies == [
        facets_body(MATCH, [], price_edges=()),
        facets_body(MATCH, ["brand"], price_edges=(10.0,)),
    ]


def test_fake_server_an_absent_catalog_is_an_empty_match_set(
    recall: ElasticsearchRecall,  # noqa: F811
) -> None:
    assert recall.match_count(MATCH) == (0, True)
    assert recall.match_entries(MATCH) == []
    assert recall.facet_counts(MATCH, ["price"], price_edges=(10.0,), max_values=5) == {"price": []}
    assert recall.products(["a"]) == {}
    assert recall.dense_neighbours([1.0, 0.0], 0.2, None, 10) == ([], False)
