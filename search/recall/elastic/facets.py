"""Elasticsearch request bodies of the match set (pure functions, pinned in tests) and the
readers of their answers.

- The match set is ``bool(should: [the BM25 multi_match, ids of the dense neighbours scoring 0],
  minimum_should_match: 1)`` under the filters. The neighbours come from a kNN search with
  ``similarity`` (the match floor, a raw cosine) and ``k`` at the neighbour cap.
- Total and facets: one ``size: 0`` request. The query holds the filters no requested facet
  owns; ``post_filter`` holds the facets' own filters (so the total honours every filter); each
  facet's aggregation is wrapped in a ``filter`` aggregation with the *other* facets' filters:
  Elasticsearch's way of disjunctive faceting. ``track_total_hits`` stops counting at
  ``TRACK_TOTAL_HITS``; past it the answer's relation is ``gte`` and the total a lower bound.
- A page in price or time order: ``sort`` on the field then ``id``, with ``from``/``size``.
- Every member, for relevance pages past the head: ``search_after`` over
  ``sort: [{"id": "asc"}]`` with ``track_scores`` and the price and creation time as doc values,
  no ``_source``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from search.recall import SearchFilters
from search.recall.elastic.bodies import filter_clauses
from search.recall.elastic.lexical import lexical_clause
from search.recall.elastic.vectors import VECTOR_FIELD, num_candidates
from search.recall.facets import (
    AGG_SIZE,
    FACET_FILTER_FIELDS,
    FACETS,
    SORT_FIELDS,
    FacetCounts,
    MatchEntry,
    MatchQuery,
    brand_values,
    category_values,
    price_buckets,
    price_range_aggregation,
    price_values,
    stock_values,
)

TRACK_TOTAL_HITS = 10_000  # Elasticsearch's own default: beyond it the total is a lower bound
MAX_KNN = 10_000  # Elasticsearch's ceiling on a kNN search's k and num_candidates
ENTRIES_BATCH = 5_000  # members per search_after request
_AGG_FIELDS = {"category": "category_path", "brand": "brand_name", "in_stock": "in_stock"}


def match_clause(match: MatchQuery) -> dict[str, Any]:
    """The scoring part of the match set: BM25 text OR a dense neighbour (scoring 0), NOT an
    excluded id."""
    should: list[dict[str, Any]] = []
    if match.text is not None:
        should.append(lexical_clause(match.text, match.filters, match.lexical))
    if match.neighbours:
        should.append(
            {"constant_score": {"filter": {"ids": {"values": list(match.neighbours)}}, "boost": 0}}
        )
    if not should:
        return {"match_none": {}}
    clause: dict[str, Any] = {"bool": {"should": should, "minimum_should_match": 1}}
    if match.excluded:  # hidden by merchandising rules
        clause["bool"]["must_not"] = [{"ids": {"values": list(match.excluded)}}]
    return clause


def _only(filters: SearchFilters, facets: Sequence[str]) -> SearchFilters:
    """``filters`` keeping only the fields the ``facets`` own."""
    owned = {name for facet in facets for name in FACET_FILTER_FIELDS[facet]}
    fields = [f.name for f in dataclasses.fields(SearchFilters)]
    return dataclasses.replace(filters, **{name: None for name in fields if name not in owned})


def facets_body(
    match: MatchQuery,
    facets: Sequence[str],
    *,
    price_edges: Sequence[float],
    track_total_hits: int = TRACK_TOTAL_HITS,
) -> dict[str, Any]:
    """The one request that answers the total and the disjunctive facet counts."""
    asked = [facet for facet in FACETS if facet in facets]
    owned = {name for facet in asked for name in FACET_FILTER_FIELDS[facet]}
    base = dataclasses.replace(match.filters, **dict.fromkeys(owned))
    body: dict[str, Any] = {
        "size": 0,
        "track_total_hits": track_total_hits,
        "query": {"bool": {"must": [match_clause(match)], "filter": filter_clauses(base)}},
    }
    own = filter_clauses(_only(match.filters, asked))
    if own:
        body["post_filter"] = {"bool": {"filter": own}}
    aggs = {}
    for facet in asked:
        others = filter_clauses(_only(match.filters, [f for f in asked if f != facet]))
        aggs[facet] = {
            "filter": {"bool": {"filter": others}},
            "aggs": {"values": _aggregation(facet, price_edges)},
        }
    if aggs:
        body["aggs"] = aggs
    return body


def _aggregation(facet: str, price_edges: Sequence[float]) -> dict[str, Any]:
    if facet == "price":
        return price_range_aggregation(price_edges)
    return {"terms": {"field": _AGG_FIELDS[facet], "size": AGG_SIZE}}


def read_total(response: dict[str, Any]) -> tuple[int, bool]:
    """``hits.total`` as ``(value, exact)``: ``relation`` ``gte`` is a lower bound."""
    total = response["hits"]["total"]
    return int(total["value"]), total.get("relation", "eq") == "eq"


def read_facets(
    response: dict[str, Any], facets: Sequence[str], price_edges: Sequence[float], max_values: int
) -> FacetCounts:
    """The facet values of a ``facets_body`` answer, as the embedded backend reports them."""
    found: FacetCounts = {}
    for facet in facets:
        buckets = response.get("aggregations", {}).get(facet, {}).get("values", {})
        buckets = buckets.get("buckets", [])
        if facet == "price":
            by_bounds = {(b.get("from"), b.get("to")): int(b["doc_count"]) for b in buckets}
            counts = [by_bounds.get((lo, hi), 0) for lo, hi in price_buckets(price_edges)]
            found[facet] = price_values(counts, price_edges, max_values)
        elif facet == "in_stock":
            found[facet] = stock_values({bool(b["key"]): int(b["doc_count"]) for b in buckets})
        elif facet == "category":
            found[facet] = category_values(
                {str(b["key"]): int(b["doc_count"]) for b in buckets}, max_values
            )
        else:
            found[facet] = brand_values(
                {str(b["key"]): int(b["doc_count"]) for b in buckets}, max_values
            )
    return found


def entries_body(
    match: MatchQuery, after: str | None = None, batch: int = ENTRIES_BATCH
) -> dict[str, Any]:
    """One ``search_after`` page of every member, by id: score, price and creation time."""
    body: dict[str, Any] = {
        "size": batch,
        "track_total_hits": False,
        "track_scores": True,
        "_source": False,
        "docvalue_fields": ["price", {"field": "created_at", "format": "epoch_millis"}],
        "sort": [{"id": "asc"}],
        "query": {"bool": {"must": [match_clause(match)], "filter": filter_clauses(match.filters)}},
    }
    if after is not None:
        body["search_after"] = [after]
    return body


def window_body(match: MatchQuery, sort: str, start: int, end: int) -> dict[str, Any]:
    """Positions ``start`` to ``end`` of the members in ``sort`` order, ties by id: ``sort``
    with ``from``/``size`` (within Elasticsearch's max_result_window, as our own window is)."""
    field, descending = SORT_FIELDS[sort]
    order: dict[str, Any] = {"order": "desc" if descending else "asc", "missing": "_last"}
    return {
        "from": start,
        "size": end - start,
        "track_total_hits": False,
        "track_scores": True,
        "_source": False,
        "docvalue_fields": ["price", {"field": "created_at", "format": "epoch_millis"}],
        "sort": [{field: order}, {"id": "asc"}],
        "query": {"bool": {"must": [match_clause(match)], "filter": filter_clauses(match.filters)}},
    }


def read_entries(response: dict[str, Any]) -> list[MatchEntry]:
    """The members of an ``entries_body`` answer (creation times in microseconds)."""
    found = []
    for hit in response["hits"]["hits"]:
        fields = hit.get("fields", {})
        created = fields.get("created_at")
        found.append(
            MatchEntry(
                hit["_id"],
                float(hit.get("_score") or 0.0),
                float(fields.get("price", [0.0])[0]),
                int(float(created[0]) * 1000) if created else None,
            )
        )
    return found


def neighbours_body(
    vector: Sequence[float], floor: float, filters: SearchFilters | None, cap: int
) -> dict[str, Any]:
    """The kNN search of the dense neighbours above ``floor`` (a raw cosine: ``similarity``)."""
    knn: dict[str, Any] = {
        "field": VECTOR_FIELD,
        "query_vector": [float(x) for x in vector],
        "k": min(cap, MAX_KNN),
        "num_candidates": max(num_candidates(cap), min(cap, MAX_KNN)),
        "similarity": floor,
    }
    clauses = filter_clauses(filters or SearchFilters())
    if clauses:
        knn["filter"] = clauses
    return {"size": min(cap, MAX_KNN), "track_total_hits": False, "_source": False, "knn": knn}


def products_body(product_ids: Sequence[str]) -> dict[str, Any]:
    """The stored products of the given ids."""
    return {
        "size": len(product_ids),
        "track_total_hits": False,
        "_source": ["product"],
        "query": {"ids": {"values": list(product_ids)}},
    }
