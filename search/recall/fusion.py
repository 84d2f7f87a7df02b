"""Fusion of the recall legs: weighted reciprocal rank fusion, above the seam, for both backends.

RRF (Cormack, Clarke and Büttcher, "Reciprocal Rank Fusion outperforms Condorcet and individual
rank learning methods", SIGIR 2009) scores a product ``sum over legs of w_leg / (k + rank_leg)``
with 1-based ranks. It reads ranks only, so a leg's raw scores (BM25 is unbounded, cosine is not)
never need normalising: min-max scaling would lift a near-zero best score to 1.0 and let a weak
leg dictate the order.

Weak lexical hits are the other known trap: a cross-lingual query often shares a single token
(a unit, a number, a brand-like word) with unrelated products, and a lexical leg that matched
only that still hands out rank 1. A lexical hit whose BM25 score is below
``bm25_floor`` times the leg's best score counts as not found by that leg, so it cannot displace
a good dense hit on the strength of its rank alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from search.recall import RecallHit


@dataclass(frozen=True)
class FusionWeights:
    """RRF's ``k`` and each leg's weight. ``bm25_floor`` (0 to 1) drops lexical hits scoring
    below that share of the leg's best BM25 score."""

    k: float = 60.0
    bm25: float = 1.0
    dense: float = 1.0
    bm25_floor: float = 0.0
    dense_alone_min: float = 0.0  # see SearchService: the dense leg alone must be this close


@dataclass(frozen=True)
class FusedHit:
    """One candidate after fusion: the product, both legs' scores and 1-based ranks (None when
    that leg did not find it), and its fused RRF score."""

    hit: RecallHit
    bm25_rank: int | None
    dense_rank: int | None
    fused_score: float


def rrf_score(weights: FusionWeights, bm25_rank: int | None, dense_rank: int | None) -> float:
    """The weighted RRF score of one product from its 1-based rank in each leg (None: that leg
    did not find it): ``w_bm25 / (k + bm25_rank) + w_dense / (k + dense_rank)``."""
    score = 0.0
    if bm25_rank is not None:
        score += weights.bm25 / (weights.k + bm25_rank)
    if dense_rank is not None:
        score += weights.dense / (weights.k + dense_rank)
    return score


def rrf(
    bm25: list[RecallHit],
    dense: list[RecallHit],
    weights: FusionWeights,
    *,
    limit: int,
) -> list[FusedHit]:
    """The top ``limit`` of both legs by weighted RRF, ties broken by product id.

    Either leg may be empty: one leg alone keeps its own order (a single leg's RRF is monotone in
    its rank). A product found by both legs carries both scores.
    """
    if bm25 and weights.bm25_floor > 0:
        floor = weights.bm25_floor * max(hit.bm25_score for hit in bm25)
        bm25 = [hit for hit in bm25 if hit.bm25_score >= floor]
    found: dict[str, list] = {}  # id -> [bm25 hit, bm25 rank, dense hit, dense rank]
    for rank, hit in enumerate(bm25, start=1):
        found.setdefault(hit.product.id, [None, None, None, None])[0:2] = [hit, rank]
    for rank, hit in enumerate(dense, start=1):
        found.setdefault(hit.product.id, [None, None, None, None])[2:4] = [hit, rank]
    fused = []
    for entry in found.values():
        lexical, lexical_rank, semantic, semantic_rank = entry
        score = rrf_score(weights, lexical_rank, semantic_rank)
        base = lexical or semantic
        hit = RecallHit(
            base.product,
            bm25_score=lexical.bm25_score if lexical else 0.0,
            dense_score=semantic.dense_score if semantic else None,
        )
        fused.append(FusedHit(hit, lexical_rank, semantic_rank, score))
    fused.sort(key=lambda f: (-f.fused_score, f.hit.product.id))
    return fused[:limit]


def fuse_legs(
    bm25: list[RecallHit],
    dense: list[RecallHit],
    weights: FusionWeights,
    *,
    match_floor: float,
    limit: int,
) -> list[FusedHit]:
    """The candidates of both legs by ``rrf``: the dense leg's hits below ``match_floor``
    (cosine) are not in the match set, and none of them is when nothing matched a word and even
    the closest is below ``weights.dense_alone_min``."""
    dense = [hit for hit in dense if (hit.dense_score or 0.0) >= match_floor]
    if not bm25 and dense and (dense[0].dense_score or 0.0) < weights.dense_alone_min:
        dense = []  # nothing matched a word, and nothing is even close in meaning
    return rrf(bm25, dense, weights, limit=limit)
