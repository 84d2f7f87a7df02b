"""Elasticsearch request bodies of the match set, pinned exactly, and how answers map back
(no cluster needed; the live contract suite runs them with SHELF_ELASTICSEARCH_URL)."""

from __future__ import annotations

from typing import Any

from search.recall import SearchFilters
from search.recall.elastic.bodies import search_body
from search.recall.elastic.facets import (
    entries_body,
    facets_body,
    match_clause,
    neighbours_body,
    products_body,
    read_entries,
    read_facets,
    read_total,
    window_body,
)
from search.recall.facets import FacetValue, MatchQuery

EDGES = (10.0, 50.0)
TEXT = search_body("red cup", SearchFilters(locale="en"), 0)["query"]["bool"]["must"][0]


def _match(**filters: Any) -> MatchQuery:
    return MatchQuery(
        text="red cup",
        analyze_as=None,
        neighbours=("n1", "n2"),
        filters=SearchFilters(locale="en", **filters),
    )


MATCH = {
    "bool": {
        "should": [
            TEXT,
            {"constant_score": {"filter": {"ids": {"values": ["n1", "n2"]}}, "boost": 0}},
        ],
        "minimum_should_match": 1,
    }
}


def test_match_clause_is_the_text_or_a_neighbour_scoring_zero() -> None:
    assert match_clause(_match()) == MATCH
    dense_only = MatchQuery(None, None, ("n1",), SearchFilters())
    assert match_clause(dense_only)["bool"]["should"] == [
        {"constant_score": {"filter": {"ids": {"values": ["n1"]}}, "boost": 0}}
    ]
    assert match_clause(MatchQuery(None, None, (), SearchFilters())) == {"match_none": {}}


def test_facets_body_counts_each_facet_under_the_other_facets_filters() -> None:
    body = facets_body(
        _match(brand="Acme", in_stock=True, min_price=10.0, price_below=50.0),
        ["brand", "price", "in_stock"],
        price_edges=EDGES,
    )
    brand = {"term": {"brand_exact": "acme"}}
    price = [{"range": {"price": {"gte": 10.0}}}, {"range": {"price": {"lt": 50.0}}}]
    stock = {"term": {"in_stock": True}}
    assert body == {
        "size": 0,
        "track_total_hits": 10_000,
        "query": {"bool": {"must": [MATCH], "filter": [{"term": {"language": "en"}}]}},
        "post_filter": {"bool": {"filter": [brand, *price, stock]}},
        "aggs": {
            "brand": {
                "filter": {"bool": {"filter": [*price, stock]}},
                "aggs": {"values": {"terms": {"field": "brand_name", "size": 10_000}}},
            },
            "price": {
                "filter": {"bool": {"filter": [brand, stock]}},
                "aggs": {
                    "values": {
                        "range": {
                            "field": "price",
                            "ranges": [
                                {"from": 0.0, "to": 10.0},
                                {"from": 10.0, "to": 50.0},
                                {"from": 50.0},
                            ],
                        }
                    }
                },
            },
            "in_stock": {
                "filter": {"bool": {"filter": [brand, *price]}},
                "aggs": {"values": {"terms": {"field": "in_stock", "size": 10_000}}},
            },
        },
    }


def test_a_filter_no_requested_facet_owns_stays_in_the_query() -> None:
    body = facets_body(_match(category="Kitchen", brand="Acme"), ["brand"], price_edges=EDGES)
    assert body["query"]["bool"]["filter"] == [
        {"term": {"language": "en"}},
        {"term": {"category_path": "Kitchen"}},
    ]
    assert body["post_filter"] == {"bool": {"filter": [{"term": {"brand_exact": "acme"}}]}}


def test_the_total_alone_is_a_size_zero_search_without_aggregations() -> None:
    assert facets_body(_match(), [], price_edges=EDGES) == {
        "size": 0,
        "track_total_hits": 10_000,
        "query": {"bool": {"must": [MATCH], "filter": [{"term": {"language": "en"}}]}},
    }


def test_entries_body_walks_every_member_by_id_with_search_after() -> None:
    first = entries_body(_match(in_stock=False), batch=3)
    assert first == {
        "size": 3,
        "track_total_hits": False,
        "track_scores": True,
        "_source": False,
        "docvalue_fields": ["price", {"field": "created_at", "format": "epoch_millis"}],
        "sort": [{"id": "asc"}],
        "query": {
            "bool": {
                "must": [MATCH],
                "filter": [{"term": {"language": "en"}}, {"term": {"in_stock": False}}],
            }
        },
    }
    assert entries_body(_match(in_stock=False), "p-7", batch=3) == {
        **first,
        "search_after": ["p-7"],
    }


def test_neighbours_body_is_a_knn_search_with_the_floor_as_similarity() -> None:
    assert neighbours_body([0.6, 0.8], 0.3, SearchFilters(locale="de"), 500) == {
        "size": 500,
        "track_total_hits": False,
        "_source": False,
        "knn": {
            "field": "embedding",
            "query_vector": [0.6, 0.8],
            "k": 500,
            "num_candidates": 1000,
            "similarity": 0.3,
            "filter": [{"term": {"language": "de"}}],
        },
    }
    capped = neighbours_body([1.0], 0.3, None, 50_000)
    assert (capped["size"], capped["knn"]["k"], capped["knn"]["num_candidates"]) == (
        10_000,
        10_000,
        10_000,
    )
    assert "filter" not in capped["knn"]


def test_products_body_fetches_sources_by_id() -> None:
    assert products_body(["a", "b"]) == {
        "size": 2,
        "track_total_hits": False,
        "_source": ["product"],
        "query": {"ids": {"values": ["a", "b"]}},
    }


def test_a_gte_total_is_a_lower_bound() -> None:
    assert read_total({"hits": {"total": {"value": 10_000, "relation": "gte"}}}) == (10_000, False)
    assert read_total({"hits": {"total": {"value": 42, "relation": "eq"}}}) == (42, True)


def test_answers_map_to_the_same_facet_values_as_the_embedded_backend() -> None:
    response = {
        "aggregations": {
            "category": {
                "values": {
                    "buckets": [{"key": "A", "doc_count": 3}, {"key": "A > B", "doc_count": 2}]
                }
            },
            "brand": {
                "values": {
                    "buckets": [
                        {"key": "Acme Co", "doc_count": 2},
                        {"key": "ACME-CO", "doc_count": 1},
                        {"key": "", "doc_count": 4},
                    ]
                }
            },
            "price": {
                "values": {
                    "buckets": [
                        {"from": 0.0, "to": 10.0, "doc_count": 0},
                        {"from": 10.0, "to": 50.0, "doc_count": 2},
                        {"from": 50.0, "doc_count": 1},
                    ]
                }
            },
            "in_stock": {
                "values": {
                    "buckets": [
                        {"key": 0, "key_as_string": "false", "doc_count": 1},
                        {"key": 1, "key_as_string": "true", "doc_count": 2},
                    ]
                }
            },
        }
    }
    facets = read_facets(response, ["category", "brand", "price", "in_stock"], EDGES, 100)
    assert facets == {
        "category": [FacetValue("A", 3, 1), FacetValue("A > B", 2, 2)],
        "brand": [FacetValue("Acme Co", 3)],  # one brand key, its most frequent spelling
        "price": [FacetValue("10-50", 2), FacetValue("50-", 1)],
        "in_stock": [FacetValue("true", 2), FacetValue("false", 1)],
    }


def test_entries_answers_carry_score_price_and_microsecond_times() -> None:
    response = {
        "hits": {
            "hits": [
                {"_id": "a", "_score": 1.5, "fields": {"price": [9.5], "created_at": ["1000"]}},
                {"_id": "b", "_score": None, "fields": {"price": [3.0]}},
            ]
        }
    }
    assert [tuple(e) for e in read_entries(response)] == [
        ("a", 1.5, 9.5, 1_000_000, None),
        ("b", 0.0, 3.0, None, None),
    ]


def test_a_sorted_page_is_sort_on_the_field_then_the_id_with_from_and_size() -> None:
    query = {
        "bool": {"must": [MATCH], "filter": [{"term": {"language": "en"}}]},
    }
    common = {
        "from": 40,
        "size": 20,
        "track_total_hits": False,
        "track_scores": True,
        "_source": False,
        "docvalue_fields": ["price", {"field": "created_at", "format": "epoch_millis"}],
        "query": query,
    }
    assert window_body(_match(), "price_asc", 40, 60) == {
        **common,
        "sort": [{"price": {"order": "asc", "missing": "_last"}}, {"id": "asc"}],
    }
    assert window_body(_match(), "price_desc", 40, 60)["sort"] == [
        {"price": {"order": "desc", "missing": "_last"}},
        {"id": "asc"},
    ]
    assert window_body(_match(), "newest", 40, 60)["sort"] == [
        {"created_at": {"order": "desc", "missing": "_last"}},
        {"id": "asc"},
    ]
