"""The match set and the page stages: the result set a storefront pages through, above the
Recall seam, once for both backends.

Relevance order is the reranked head (the first ``rerank window`` candidates) followed by the
rest of the match set in recall order: weighted RRF of the lexical leg (every lexical match by
BM25, ties by id) and the dense leg (every neighbour above the match floor by cosine, ties by
id), ties by id. Every page recomputes the same head and the same rest, so page N+1 continues
page N whether page N came from the score cache or not. Other sorts order the whole match set by
one field, ties by id, and are not reranked.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

from search.merchandising.apply import Merchandising
from search.recall import Recall, SearchFilters
from search.recall.facets import FacetCounts, MatchEntry, MatchQuery
from search.recall.fusion import FusionWeights, rrf_score
from search.recall.plan import QueryPlan
from search.results.items import SearchItem, make_item
from search.results.pages import merge_page, pinned_item

Pin = tuple[int, str, str]  # (position, product id, rule id)


@dataclass(frozen=True)
class MatchSet:
    """What the query matches: ``members`` (hidden products excluded), ``organic`` (pinned ones
    excluded too), the dense neighbours above the match floor (``cut``: capped), the pins that
    pass the filters, the organic members' count (``exact`` False: a lower bound) and the facet
    counts (pinned products count like members)."""

    members: MatchQuery
    organic: MatchQuery
    neighbours: list[tuple[str, float]] = field(default_factory=list)
    cut: bool = False
    pins: list[Pin] = field(default_factory=list)
    count: int = 0
    exact: bool = True
    facets: FacetCounts = field(default_factory=dict)


@dataclass(frozen=True)
class Page:
    """One page of the answer, the answer's total (``total_exact`` False: a lower bound, as
    Elasticsearch's ``"relation": "gte"``) and whether more follows."""

    items: list[SearchItem]
    total: int
    total_exact: bool
    has_more: bool


def match_set(
    recall: Recall,
    plan: QueryPlan,
    merch: Merchandising,
    *,
    found: bool,
    relevance: bool,
    facets: Sequence[str],
    match_floor: float,
    match_cap: int,
    price_edges: Sequence[float],
    max_facet_values: int,
) -> MatchSet:
    """The match set of ``plan``: the dense neighbours from ``match_floor`` on (at most
    ``match_cap``), the pins of ``merch`` (relevance order only) that pass the filters, the
    organic count (0 without a ``found`` candidate: nothing lexical and nothing close enough
    means an empty set) and the ``facets`` asked for (disjunctive counts)."""
    hidden = tuple(sorted(merch.hidden))
    neighbours: list[tuple[str, float]] = []
    cut = False
    if plan.vector is not None and plan.mode != "bm25":
        neighbours, cut = recall.dense_neighbours(
            plan.vector, match_floor, SearchFilters(locale=plan.filters.locale), match_cap
        )
    members = MatchQuery(
        text=plan.text if plan.mode != "dense" else None,
        analyze_as=plan.analyze_as,
        neighbours=tuple(product_id for product_id, _ in neighbours),
        filters=plan.filters,
        excluded=hidden,
        lexical=plan.lexical,
    )
    pins = list(merch.pins) if relevance else []
    if pins:  # only those that pass the filters (and are not hidden) are shown
        pinned = MatchQuery(None, None, tuple(p[1] for p in pins), plan.filters, excluded=hidden)
        eligible = {e.product_id for e in recall.match_entries(pinned)}
        pins = [pin for pin in pins if pin[1] in eligible]
    pin_ids = tuple(sorted(p[1] for p in pins))
    organic = dataclasses.replace(members, excluded=tuple(sorted({*hidden, *pin_ids})))
    count, exact = recall.match_count(organic) if found else (0, True)
    counts: FacetCounts = {}
    if facets:
        counted = members
        if pin_ids:
            counted = dataclasses.replace(members, neighbours=(*members.neighbours, *pin_ids))
        counts = recall.facet_counts(
            counted, facets, price_edges=price_edges, max_values=max_facet_values
        )
    return MatchSet(members, organic, neighbours, cut, pins, count, exact and not cut, counts)


def answer_page(
    recall: Recall,
    fusion: FusionWeights,
    plan: QueryPlan,
    matched: MatchSet,
    ranked: list[SearchItem],
    head: list[SearchItem],
    *,
    sort: str,
    page: int,
    size: int,
) -> Page:
    """Page ``page`` (1-based, ``size`` items) of the answer in ``sort`` order: in relevance
    order the pins at their positions and the organic order around them (``head``, the ranked
    head after rules, then the rest of the match set by ``_rest``); else one window of the
    match set sorted by one field. ``ranked`` is the head before rules (the pinned products'
    scores come from it)."""
    if ranked:
        organic_total, exact = max(matched.count, len(head)), matched.exact
    else:
        organic_total, exact = 0, True
    total = organic_total + len(matched.pins)
    start, end = (page - 1) * size, page * size

    def organic(a: int, b: int) -> list[SearchItem]:  # positions a..b of the organic order
        if not ranked or a >= organic_total or b <= a:
            return []
        if b <= len(head):
            return head[a:b]
        # RRF orders lexical members by rank only while their leg weighs something: then the
        # lexical top b + head (with every neighbour) holds every position up to b.
        depth = b + len(head) if fusion.bm25 > 0 else None
        entries = recall.match_entries(matched.organic, depth=depth)
        return head[a:b] + _rest(
            recall, fusion, entries, matched.neighbours, head, plan.mode, max(a, len(head)), b
        )

    if sort == "relevance":
        in_head = {item.product_id: item for item in ranked}
        items = merge_page(
            matched.pins, organic_total, start, end, organic,
            lambda pid: pinned_item(recall, pid, in_head),
        )  # fmt: skip
    elif ranked and start < total:
        window = recall.match_window(matched.members, sort, start, end)
        items = _sorted_page(recall, window, dict(matched.neighbours), start)
    else:
        items = []
    return Page(items, total, exact, end < total)


def _rest(
    recall: Recall,
    fusion: FusionWeights,
    entries: list[MatchEntry],
    neighbours: list[tuple[str, float]],
    head: list[SearchItem],
    mode: str,
    start: int,
    end: int,
) -> list[SearchItem]:
    """Positions ``start`` to ``end`` (0-based, past the head) of the relevance order: the
    members not in the head, by weighted RRF of both legs over the whole match set."""
    shown = {item.product_id for item in head}
    members = {entry.product_id: entry for entry in entries}
    lexical = [e for e in entries if e.bm25_score > 0]
    if all(e.bm25_rank is not None for e in lexical):  # ranked by the backend (a top only)
        bm25_rank = {e.product_id: e.bm25_rank for e in lexical if e.bm25_rank is not None}
    else:
        lexical.sort(key=lambda e: (-e.bm25_score, e.product_id))
        bm25_rank = {e.product_id: rank for rank, e in enumerate(lexical, start=1)}
    cosine = {pid: score for pid, score in neighbours if pid in members}
    dense_rank = {pid: rank for rank, pid in enumerate(cosine, start=1)}

    def recall_score(pid: str) -> float:
        if mode == "bm25":
            return members[pid].bm25_score
        if mode == "dense":
            return cosine.get(pid, 0.0)
        return rrf_score(fusion, bm25_rank.get(pid), dense_rank.get(pid))

    scored = [(recall_score(pid), pid) for pid in members if pid not in shown]
    scored.sort(key=lambda pair: (-pair[0], pair[1]))
    offset = len(head)
    chosen = scored[start - offset : end - offset]
    products = recall.products([pid for _, pid in chosen])
    return [
        make_item(
            products[pid],
            position,
            bm25_score=members[pid].bm25_score,
            final_score=round(score, 6),
            dense_score=cosine.get(pid),
            bm25_rank=bm25_rank.get(pid),
            dense_rank=dense_rank.get(pid),
        )  # fmt: skip
        for position, (score, pid) in enumerate(chosen, start=start + 1)
        if pid in products
    ]


def _sorted_page(
    recall: Recall, window: list[MatchEntry], cosine: dict[str, float], start: int
) -> list[SearchItem]:
    """The items of one page of a sorted match set (``Recall.match_window``'s entries), from
    position ``start`` + 1."""
    products = recall.products([e.product_id for e in window])
    return [
        make_item(
            products[e.product_id],
            position,
            bm25_score=e.bm25_score,
            dense_score=cosine.get(e.product_id),
        )  # fmt: skip
        for position, e in enumerate(window, start=start + 1)
        if e.product_id in products
    ]
