"""The search pipeline: recall top-K, rerank the candidates, order by the model's scores."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace

from catalog.language import detect_language
from catalog.text import rerank_text
from search.cache import NoScoreCache, ScoreCache
from search.errors import InvalidQuery
from search.metrics import DEGRADED_RESPONSES
from search.query import normalize_query
from search.recall import Recall, RecallHit, SearchFilters
from search.rerank import Candidate, Reranker, cached_scores, sigmoid
from search.settings import Settings

MAX_K = 1000


@dataclass(frozen=True)
class SearchItem:
    """One product in a ranked answer."""

    product_id: str
    title: str
    locale: str
    price: float
    currency: str
    in_stock: bool
    position: int
    bm25_score: float
    rerank_score: float | None
    final_score: float | None = None  # what the order follows (None: recall order)


@dataclass
class SearchResponse:
    """A ranked answer and how it was made."""

    query: str
    items: list[SearchItem]
    candidates: int
    language: str | None  # the locale or language recall was restricted to, if any
    language_detected: bool  # True when ``language`` was detected from the query text
    reranked: bool
    model: str | None
    degraded: bool = False  # True when some candidates went unscored (deadline, no worker)
    scored: int = 0  # candidates with a rerank score, from the cache or the model
    cached: int = 0  # of those, served from the score cache
    timings_ms: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """Plain JSON-ready data."""
        return asdict(self)


class SearchPipeline:
    """query -> Recall.search -> ScoreCache.get -> Reranker.score (misses) -> order -> page."""

    def __init__(
        self,
        recall: Recall,
        reranker: Reranker | None,
        *,
        cache: ScoreCache | None = None,
        recall_k: int = 50,
        rerank_text_max_chars: int = 1200,
        deadline_ms: float = 2000,
    ) -> None:
        self.recall = recall
        self.reranker = reranker
        self.cache = cache or NoScoreCache()
        self.recall_k = recall_k
        self.rerank_text_max_chars = rerank_text_max_chars
        self.deadline_ms = deadline_ms

    def search(
        self,
        query: str,
        *,
        k: int = 10,
        recall_k: int | None = None,
        filters: SearchFilters | None = None,
        rerank: bool = True,
        blend: float = 0.0,
    ) -> SearchResponse:
        """The top ``k`` products for ``query``: reranked when a reranker is present and asked.

        ``blend`` (0 to 1) is BM25's weight in the final score; 0 orders by the model alone.
        """
        if not 0.0 <= blend <= 1.0:
            raise InvalidQuery(f"blend must be between 0 and 1 (got {blend})")
        if not 1 <= k <= MAX_K:
            raise InvalidQuery(f"k must be between 1 and {MAX_K} (got {k})")
        recall_k = max(recall_k or self.recall_k, k)
        if recall_k > MAX_K:
            raise InvalidQuery(f"recall_k must be at most {MAX_K} (got {recall_k})")
        started = time.perf_counter()
        text = normalize_query(query)

        filters = filters or SearchFilters()
        detected = False
        if filters.locale is None:
            guess = detect_language(text)
            if guess is not None:
                filters, detected = replace(filters, locale=guess[0]), True
        hits = self.recall.search(text, limit=recall_k, filters=filters)
        if not hits and detected:
            # A wrong guess must not hide products: search every language instead.
            filters, detected = replace(filters, locale=None), False
            hits = self.recall.search(text, limit=recall_k, filters=filters)
        recalled = time.perf_counter()
        timings = {"recall": (recalled - started) * 1000}

        scores: list[float | None] | None = None
        cached = 0
        if rerank and self.reranker is not None and hits:
            scores, cached = self._scores(text, hits, self.reranker)
            timings["rerank"] = (time.perf_counter() - recalled) * 1000
        scored = sum(1 for score in scores or () if score is not None)
        degraded = scores is not None and scored < len(hits)
        if degraded:
            DEGRADED_RESPONSES.inc()

        items = _rank(hits, scores, k, blend)
        timings["total"] = (time.perf_counter() - started) * 1000
        return SearchResponse(
            query=text,
            items=items,
            candidates=len(hits),
            language=filters.locale,
            language_detected=detected,
            reranked=scored > 0,
            model=self.reranker.model_id if scored and self.reranker else None,
            degraded=degraded,
            scored=scored,
            cached=cached,
            timings_ms={stage: round(ms, 3) for stage, ms in timings.items()},
        )

    def close(self) -> None:
        """Stop the reranker (its inference thread finishes its batch first) and the index.

        A process must call this before it exits: a forward pass still running in a daemon
        thread at interpreter shutdown aborts the process."""
        if self.reranker is not None:
            self.reranker.close()
        self.recall.close()

    def _scores(
        self, query: str, hits: list[RecallHit], reranker: Reranker
    ) -> tuple[list[float | None], int]:
        """Each hit's score from the cache, else from the reranker within the deadline."""
        deadline = time.monotonic() + self.deadline_ms / 1000
        candidates = [
            Candidate(h.product.id, rerank_text(h.product, self.rerank_text_max_chars))
            for h in hits
        ]
        return cached_scores(reranker, self.cache, query, candidates, deadline=deadline)


def make_pipeline(
    settings: Settings, *, rerank: bool = True, recall: Recall | None = None
) -> SearchPipeline:
    """The pipeline the settings describe: its recall backend (or ``recall``), score cache and
    (if asked for) reranker, with the recall size, text length and deadline they name."""
    from search.cache import make_score_cache
    from search.recall import make_recall
    from search.rerank import make_reranker

    cache = make_score_cache(settings)
    return SearchPipeline(
        recall or make_recall(settings),
        make_reranker(settings, cache) if rerank else None,
        cache=cache,
        recall_k=settings.recall_k,
        rerank_text_max_chars=settings.rerank_text_max_chars,
        deadline_ms=settings.rerank_deadline_ms,
    )


def final_scores(
    hits: list[RecallHit], scores: list[float | None] | None, blend: float
) -> list[float | None]:
    """What each hit is ordered by: its BM25 score when no model score came; the model's raw
    score when ``blend`` is 0; else ``(1 - blend) * sigmoid(model) + blend * bm25 / top bm25``.
    Unscored hits get None (they rank below every scored one)."""
    if scores is None or all(score is None for score in scores):
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


def _rank(
    hits: list[RecallHit], scores: list[float | None] | None, k: int, blend: float = 0.0
) -> list[SearchItem]:
    """The top ``k``: scored candidates by final score (recall rank breaks ties), then the
    unscored in recall order."""
    final = final_scores(hits, scores, blend)
    order = list(range(len(hits)))
    if scores is not None:
        order.sort(key=lambda i: (0, -f, i) if (f := final[i]) is not None else (1, 0.0, i))
    del order[k:]
    return [
        SearchItem(
            product_id=hits[i].product.id,
            title=hits[i].product.title,
            locale=hits[i].product.locale,
            price=hits[i].product.price,
            currency=hits[i].product.currency,
            in_stock=hits[i].product.in_stock,
            position=position,
            bm25_score=round(hits[i].bm25_score, 6),
            rerank_score=None if scores is None else scores[i],
            final_score=final[i],
        )
        for position, i in enumerate(order, start=1)
    ]
