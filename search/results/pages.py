"""Rules applied to a result set's pages (the service's rules and page stages,
``search.results.result_set``), after reranking.

- Hidden products are excluded from the match set itself (``MatchQuery.excluded``), so they
  leave every page, the total and the facet counts, under every sort.
- Pinned products (relevance order only) are taken out of the organic order and sit at their
  positions over the whole answer; a pin past the organic end moves up so the answer has no
  gap (``effective_pins``). Page N knows what page N-1 pinned because every page derives the
  same positions from the same total. A pinned product is shown whether or not the query
  matched it (as Elasticsearch's pinned query and Algolia's promoted hits do), but only if it
  passes the request's filters; it counts in the total and the facets like a member.
- Boosts and buries (relevance order only) multiply the score of each product of the reranked
  head (the first ``recall_k``: the part of the order with one comparable score), then the head
  is re-sorted (ties by id). The score multiplied is the model's probability (the sigmoid of its
  raw score) when the head was reranked, else the recall or blended score; a negative score is
  divided, so a factor above 1 always lifts. The rest of the match set keeps recall order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from search.merchandising.apply import Merchandising, effective_pins
from search.recall import Recall, brand_key
from search.rerank.rerankers import sigmoid
from search.results.items import SearchItem, make_item


def boost_head(head: list[SearchItem], merch: Merchandising, recall: Recall) -> list[SearchItem]:
    """``head`` re-sorted by each item's boosted score (see the module doc), boosted items
    marked with the factor and their rule; unscored items keep their place after the scored
    ones. ``final_score`` is left as computed."""
    if not merch.boosts or not head:
        return head
    products = recall.products([item.product_id for item in head])
    keyed: list[tuple[float, SearchItem]] = []
    unscored: list[SearchItem] = []
    for item in head:
        if item.final_score is None:
            unscored.append(item)
            continue
        factor, rule_id = 1.0, None
        product = products.get(item.product_id)
        if product is not None:
            factor, rule_id = merch.boost_of(brand_key(product.brand), product.category_path)
        if rule_id is not None:
            item = dataclasses.replace(item, rule=rule_id, boost=round(factor, 6))
        keyed.append((boosted(item, factor), item))
    keyed.sort(key=lambda pair: (-pair[0], pair[1].product_id))
    return [item for _, item in keyed] + unscored


def boosted(item: SearchItem, factor: float) -> float:
    """The score a boost multiplies: the model's probability (sigmoid of its raw score) when
    the item was ordered by it, else the final score (BM25, RRF, a blend: not negative); a
    negative score (a cosine) is divided instead, so a factor above 1 always lifts."""
    score = item.final_score or 0.0
    if item.rerank_score is not None and score == item.rerank_score:
        score = sigmoid(score)
    return score * factor if score >= 0 else score / factor


def merge_page(
    pins: Sequence[tuple[int, str, str]],
    organic_total: int,
    start: int,
    end: int,
    organic: Callable[[int, int], list[SearchItem]],
    pinned_item: Callable[[str], SearchItem | None],
) -> list[SearchItem]:
    """Positions ``start`` to ``end`` (0-based, end exclusive) of the answer: the ``pins``
    (eligible ones, by position) at their effective positions, the organic order (``organic(a,
    b)``: its positions a to b) around them. Positions are renumbered over the whole answer."""
    placed = effective_pins(pins, organic_total)
    last = min(end, organic_total + len(placed))
    if start >= last:
        return []
    here = {
        position: (pid, rule_id) for position, pid, rule_id in placed if start < position <= last
    }
    before = sum(1 for position, _, _ in placed if position <= start)
    a = start - before
    flow = iter(organic(a, a + (last - start) - len(here)))
    items: list[SearchItem] = []
    for position in range(start + 1, last + 1):
        if position in here:
            pid, rule_id = here[position]
            item = pinned_item(pid)
            if item is None:
                continue
            items.append(dataclasses.replace(item, position=position, pinned=True, rule=rule_id))
        else:
            item = next(flow, None)
            if item is not None:
                items.append(dataclasses.replace(item, position=position))
    return items


def pinned_item(recall: Recall, pid: str, in_head: dict[str, SearchItem]) -> SearchItem | None:
    """A pinned product as an item: its head item (scores kept), else one built from the
    index (None when the index no longer holds it)."""
    if pid in in_head:
        return in_head[pid]
    product = recall.products([pid]).get(pid)
    # A pinned product that the head did not hold: no recall or rerank score.
    return None if product is None else make_item(product, 0, pinned=True)


def ruled_head(
    ranked: list[SearchItem], merch: Merchandising, pinned: Sequence[str], recall: Recall
) -> list[SearchItem]:
    """The rules stage on the ranked head: hidden and ``pinned`` products out (the pins are
    placed by ``merge_page``), the rest boosted and buried (``boost_head``)."""
    out = {*merch.hidden, *pinned}
    return boost_head([item for item in ranked if item.product_id not in out], merch, recall)
