"""Score candidates and store the scores: the path the local reranker and the task share."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from search.metrics import RERANK_PAIRS_SCORED
from search.rerank.cache import ScoreCache, score_key
from workers.rerank.model import RerankModel


@dataclass(frozen=True)
class Candidate:
    """A product to score: its id (for the cache key) and the text the model reads."""

    product_id: str
    text: str


def store_scores(
    cache: ScoreCache,
    model_id: str,
    query: str,
    candidates: Sequence[Candidate],
    scores: Sequence[float],
) -> None:
    """Write scores under their pair keys, so the next identical search skips the model."""
    cache.put_many(
        {
            score_key(model_id, query, c.product_id, c.text): score
            for c, score in zip(candidates, scores, strict=True)
        }
    )


def submit_and_store(
    model: RerankModel,
    cache: ScoreCache,
    query: str,
    candidates: Sequence[Candidate],
    where: str,
    deadline: float | None = None,
) -> Future[list[float]]:
    """Queue the pairs on the model; their scores go to the cache when ready, even after the
    caller stopped waiting. Pairs still queued at ``deadline`` (``time.monotonic()``) are
    dropped unscored; ``Overloaded`` when they could not be scored by then."""
    future = model.submit(query, [c.text for c in candidates], deadline)

    def stored(done: Future[list[float]]) -> None:
        if done.exception() is None:
            store_scores(cache, model.model_id, query, candidates, done.result())
            RERANK_PAIRS_SCORED.labels(where=where).inc(len(candidates))

    future.add_done_callback(stored)
    return future
