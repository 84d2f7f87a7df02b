"""The match set's shared vocabulary, for both backends: what a match query is, what a member
looks like, which facets exist and how disjunctive counting relaxes the filters.

A query and its filters define the *match set*: every product the lexical leg matches, plus the
dense leg's neighbours whose cosine reaches the match floor (``SHELF_DENSE_MATCH_MIN_SIMILARITY``).
The neighbours are found once under the locale filter alone, so the set under any facet filter
is the neighbours and lexical matches that pass it (exact search makes the two the same).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from search.recall.filters import SearchFilters, brand_key
from search.recall.lexical import LexicalOptions

FACETS: tuple[str, ...] = ("category", "brand", "price", "in_stock")
# The SearchFilters fields each facet's own filter is made of: counting a facet ignores them.
FACET_FILTER_FIELDS: dict[str, tuple[str, ...]] = {
    "category": ("category",),
    "brand": ("brand",),
    "price": ("min_price", "max_price", "price_below"),
    "in_stock": ("in_stock",),
}
# The sorts other than relevance: the field each orders by, and whether descending. Ties by
# product id; a product without the field (no created_at) comes last either way.
SORT_FIELDS: dict[str, tuple[str, bool]] = {
    "price_asc": ("price", False),
    "price_desc": ("price", True),
    "newest": ("created_at", True),
}
AGG_SIZE = 10_000  # distinct values one facet aggregation reports before trimming


@dataclass(frozen=True)
class MatchQuery:
    """What defines a match set: the lexical leg's query (None: dense only), how it is
    analysed, the dense neighbours' ids (above the floor, under the locale filter alone), the
    filters every member passes and the ids that are never members; ``lexical``: the synonyms
    and typo corrections the lexical leg searched with (so the set holds what they recall)."""

    text: str | None
    analyze_as: tuple[str, ...] | None
    neighbours: tuple[str, ...]
    filters: SearchFilters
    _: dataclasses.KW_ONLY  # two optional parts of one type family were once swapped by position
    excluded: tuple[str, ...] = ()  # ids never members (hidden by merchandising rules)
    lexical: LexicalOptions | None = None

    def with_filters(self, filters: SearchFilters) -> MatchQuery:
        """The same query under other filters."""
        return dataclasses.replace(self, filters=filters)


class MatchEntry(NamedTuple):
    """One member of a match set, read without loading its document: its BM25 score (0.0 when
    only the dense leg found it), price and ``created_at`` (epoch microseconds, None: unknown)."""

    product_id: str
    bm25_score: float
    price: float
    created_at: int | None
    bm25_rank: int | None = None  # 1-based among lexical members by (-score, id), when given


@dataclass(frozen=True)
class FacetValue:
    """One facet value and how many members of the match set have it. ``level`` is a category
    value's breadcrumb depth (1: top level); None for other facets."""

    value: str
    count: int
    level: int | None = None


FacetCounts = dict[str, list[FacetValue]]


def relaxed(filters: SearchFilters, facet: str) -> SearchFilters:
    """``filters`` without the facet's own filter: a facet's counts honour every *other* one."""
    return dataclasses.replace(filters, **dict.fromkeys(FACET_FILTER_FIELDS[facet]))


def disjunctive_groups(
    filters: SearchFilters, facets: Sequence[str]
) -> list[tuple[SearchFilters, tuple[str, ...]]]:
    """The facets grouped by the filters they are counted under (one aggregation per group), in
    ``FACETS`` order. With no facet filter active, one group holds every facet."""
    groups: dict[SearchFilters, list[str]] = {}
    for facet in FACETS:
        if facet in facets:
            groups.setdefault(relaxed(filters, facet), []).append(facet)
    return [(group_filters, tuple(names)) for group_filters, names in groups.items()]


def price_buckets(edges: Sequence[float]) -> list[tuple[float, float | None]]:
    """Half-open buckets ``[lo, hi)`` from increasing ``edges``: ``[0, e1), ..., [en, inf)``."""
    bounds = [0.0, *edges]
    return [(lo, hi) for lo, hi in zip(bounds, [*edges, None], strict=True)]


def bucket_value(lo: float, hi: float | None) -> str:
    """The facet value of a price bucket: ``"25-50"``, ``"500-"`` (open above)."""
    return f"{lo:g}-" if hi is None else f"{lo:g}-{hi:g}"


def ordered(values: Iterable[FacetValue], max_values: int) -> list[FacetValue]:
    """The ``max_values`` most frequent values, ties by value."""
    return sorted(values, key=lambda v: (-v.count, v.value))[:max_values]


def category_values(counts: Mapping[str, int], max_values: int) -> list[FacetValue]:
    """Category paths at every breadcrumb level (a product counts under each ancestor)."""
    return ordered(
        (FacetValue(path, n, path.count(" > ") + 1) for path, n in counts.items() if path and n),
        max_values,
    )


def brand_values(counts: Mapping[str, int], max_values: int) -> list[FacetValue]:
    """Brands merged by ``brand_key`` (the brand filter's key), so applying a value as a filter
    finds what it counted; a brand is shown as its most frequent spelling (ties: smallest)."""
    merged: dict[str, int] = defaultdict(int)
    spellings: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for name, n in counts.items():
        key = brand_key(name)
        if key and n:
            merged[key] += n
            spellings[key].append((-n, name))
    return ordered((FacetValue(min(spellings[key])[1], n) for key, n in merged.items()), max_values)


def price_values(
    counts: Sequence[int], edges: Sequence[float], max_values: int
) -> list[FacetValue]:
    """Non-empty price buckets in price order (not by count: a price list reads low to high)."""
    buckets = price_buckets(edges)
    return [
        FacetValue(bucket_value(lo, hi), n)
        for (lo, hi), n in zip(buckets, counts, strict=True)
        if n
    ][:max_values]


def stock_values(counts: Mapping[bool, int]) -> list[FacetValue]:
    """``true`` then ``false``, each when some member has it."""
    return [FacetValue(str(v).lower(), counts[v]) for v in (True, False) if counts.get(v)]


def price_range_aggregation(price_edges: Sequence[float]) -> dict[str, Any]:
    """The price facet's ``range`` aggregation over ``price_buckets(price_edges)``, in the
    request format Elasticsearch and tantivy's aggregations share (an open end left out)."""
    ranges = [
        {k: v for k, v in (("from", lo), ("to", hi)) if v is not None}
        for lo, hi in price_buckets(price_edges)
    ]
    return {"range": {"field": "price", "ranges": ranges}}
