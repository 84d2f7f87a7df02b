"""The rank stage: the ranked head of the answer.

The fused candidates (the first ``recall_k``) are scored by the cross-encoder (the score cache
first, then the model within the deadline) and ordered by their final score; unscored
candidates follow in recall order. With a learned ranker (``learned_head``), its score orders
the candidates of both legs instead, and the cross-encoder's is one of its features. Ties break
by recall rank, and recall breaks its own by product id, so the same input always gives the
same order.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from catalog.text import rerank_text
from search.recall import RecallHit
from search.recall.fusion import FusedHit
from search.rerank.cache import ScoreCache
from search.rerank.rerankers import Candidate, Reranker, cached_scores, sigmoid
from search.results.items import SearchItem, make_item


@dataclass(frozen=True)
class HeadScores:
    """The model's score of each candidate (None: none came in time; ``scores`` None: the model
    did not run) and how many came from the cache."""

    scores: list[float | None] | None = None
    cached: int = 0

    @property
    def scored(self) -> int:
        """Candidates with a score, from the cache or the model."""
        return sum(1 for score in self.scores or () if score is not None)


def score_head(
    reranker: Reranker,
    cache: ScoreCache,
    query: str,
    hits: list[RecallHit],
    *,
    text_max_chars: int,
    deadline_ms: float,
    cancelled: Callable[[], bool] | None = None,
) -> HeadScores:
    """Each hit's score from the cache, else from ``reranker`` within ``deadline_ms`` (or until
    ``cancelled()``: the search was abandoned); each product's rerank text is cut at
    ``text_max_chars`` characters."""
    deadline = time.monotonic() + deadline_ms / 1000
    candidates = [Candidate(h.product.id, rerank_text(h.product, text_max_chars)) for h in hits]
    scores, cached = cached_scores(
        reranker, cache, query, candidates, deadline=deadline, cancelled=cancelled
    )
    return HeadScores(scores, cached)


def final_scores(
    hits: list[RecallHit],
    scores: list[float | None] | None,
    blend: float,
    recall_scores: list[float] | None = None,
) -> list[float | None]:
    """What each hit is ordered by: its recall score (``recall_scores``: the fused RRF score;
    else BM25) when no model score came; the model's raw score when ``blend`` is 0; else
    ``(1 - blend) * sigmoid(model) + blend * bm25 / top bm25``.
    Unscored hits get None (they rank below every scored one)."""
    if scores is None or all(score is None for score in scores):
        if recall_scores is not None:
            return [round(score, 6) for score in recall_scores]
        return [round(hit.bm25_score, 6) for hit in hits]
    if blend == 0.0:
        return list(scores)
    top_bm25 = max((hit.bm25_score for hit in hits), default=0.0) or 1.0
    return [
        None
        if score is None
        else (1.0 - blend) * sigmoid(score) + blend * hit.bm25_score / top_bm25
        for hit, score in zip(hits, scores, strict=True)
    ]


def recall_scores(fused: list[FusedHit], mode: str) -> list[float]:
    """What unreranked items are ordered by: the one leg's own score when one leg ran (BM25,
    or the cosine), the RRF score when both did."""
    if mode == "bm25":
        return [f.hit.bm25_score for f in fused]
    if mode == "dense":
        return [f.hit.dense_score or 0.0 for f in fused]
    return [f.fused_score for f in fused]


def rank_head(
    fused: list[FusedHit],
    scores: list[float | None] | None,
    k: int,
    blend: float = 0.0,
    mode: str = "hybrid",
) -> list[SearchItem]:
    """The top ``k``: scored candidates by final score (recall rank breaks ties), then the
    unscored in recall (fused) order."""
    hits = [f.hit for f in fused]
    final = final_scores(hits, scores, blend, recall_scores(fused, mode))
    order = list(range(len(hits)))
    if scores is not None:
        order.sort(key=lambda i: (0, -f, i) if (f := final[i]) is not None else (1, 0.0, i))
    del order[k:]
    return [
        make_item(
            hits[i].product,
            position,
            bm25_score=hits[i].bm25_score,
            rerank_score=None if scores is None else scores[i],
            final_score=final[i],
            dense_score=hits[i].dense_score,
            bm25_rank=fused[i].bm25_rank,
            dense_rank=fused[i].dense_rank,
        )
        for position, i in enumerate(order, start=1)
    ]


def learned_head(
    fused: list[FusedHit],
    learned: Sequence[float] | np.ndarray,
    scores: list[float | None] | None,
    k: int,
) -> list[SearchItem]:
    """The top ``k`` of ``fused`` by the learned ranker's score (``learned``: its
    ``final_score``), ties by fused rank (which breaks its own by product id); ``scores`` are
    the cross-encoder's, reported as ``rerank_score`` (one feature among others)."""
    order = sorted(range(len(fused)), key=lambda i: (-learned[i], i))[:k]
    return [
        make_item(
            fused[i].hit.product,
            position,
            bm25_score=fused[i].hit.bm25_score,
            rerank_score=None if scores is None else scores[i],
            final_score=round(float(learned[i]), 6),
            dense_score=fused[i].hit.dense_score,
            bm25_rank=fused[i].bm25_rank,
            dense_rank=fused[i].dense_rank,
        )
        for position, i in enumerate(order, start=1)
    ]
