"""The search service: one checked ``SearchRequest`` in, one ``SearchResult`` out, through the
stages in order, each timed by the runner itself:

understand (languages, synonyms, typos, the query vector: ``dense``) -> recall (the legs) ->
fuse (RRF) -> match_set (neighbours, pins, total, facets) -> rank (score cache, model within the
deadline: ``rerank``; the learned ranker's features and scores: ``ranker``) -> rules (hide, pin,
boost) -> page.

With a learned ranker, the rank stage orders the candidates of both legs (up to twice the
window: a product the dense leg alone found, deep in the fused order, can still come first) and
keeps the window's best; the match set, its total and facets are the same as without one, and
the rest of the answer follows in fused order.

``GET /search``, ``shelf search``, ``shelf eval``, ``shelf demo``, the experiment variants and
the benchmarks all call ``SearchService.search``, so what is measured is what is served.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from search.errors import SearchStopped
from search.merchandising.apply import NOTHING, Merchandising
from search.metrics import DEGRADED_RESPONSES, QUERY_BUDGET_CUTS
from search.pipeline.budget import cut_words
from search.pipeline.config import SearchConfig, search_config
from search.pipeline.request import SearchRequest
from search.pipeline.understand import QueryUnderstanding
from search.query.budget import BudgetReport, Deadline, record_stop
from search.query.languages import known_languages, reported_language
from search.ranking.features import RankTrace, candidate_features, feature_key
from search.recall import Recall
from search.recall.facets import FacetCounts
from search.recall.fusion import fuse_legs
from search.recall.lexical import Correction, SynonymUse
from search.recall.plan import QueryPlan
from search.rerank.cache import NoScoreCache, ScoreCache
from search.rerank.rerankers import MissingReranker, Reranker
from search.results.head import HeadScores, learned_head, rank_head, score_head
from search.results.items import SearchItem
from search.results.pages import ruled_head
from search.results.result_set import answer_page, match_set
from search.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Callable

    from search.merchandising.apply import RuleSet
    from search.synonyms.model import SynonymSet
    from workers.embedding.model import Embedder

log = logging.getLogger(__name__)
LATE_NOTICE = (
    "the search's deadline (SHELF_SEARCH_DEADLINE_MS) passed before ranking: answered in "
    "recall order"
)


@dataclass
class SearchResult:
    """One page of the answer and how it was made: the query as searched, the page's items,
    the candidates reranked, the language BM25 analysed it as (None: every one of its script;
    ``language_detected``: detected from the text), whether and by which model it was reranked
    (``degraded``: some candidates went unscored; ``scored`` of them, ``cached`` from the score
    cache), each stage's milliseconds, the ``stages`` that made the order (``recall:bm25``,
    ``recall:dense``, ``fuse``, ``rerank:<model id>``, ...), the recall legs, the eligibility
    filter's locale, the products the dense leg cannot find yet and the operator's ``notice``
    (also: the cross-encoder was wanted but is not available here), the lexical leg's
    corrections, synonyms and did-you-mean; the answer's ``total`` (``total_exact`` False: a
    lower bound), the page, its size, the sort, whether more follows, the facet counts and the
    merchandising rules the query met; ``ranker``: the learned ranker that ordered the head
    (``name@version``; None: the fused or cross-encoder order); ``budget``: how the query
    fared against its budget (terms, clauses, deadline; ``cut``: something was left out)."""

    query: str
    items: list[SearchItem]
    candidates: int
    language: str | None
    language_detected: bool
    reranked: bool
    model: str | None
    degraded: bool = False
    scored: int = 0
    cached: int = 0
    timings_ms: dict[str, float] = field(default_factory=dict)
    stages: list[str] = field(default_factory=list)
    recall_mode: str = "bm25"
    product_locale: str | None = None
    vectors_pending: int = 0
    notice: str | None = None
    corrections: list[Correction] = field(default_factory=list)
    synonyms: list[SynonymUse] = field(default_factory=list)
    did_you_mean: str | None = None
    total: int = 0
    total_exact: bool = True
    page: int = 1
    size: int = 10
    sort: str = "relevance"
    has_more: bool = False
    facets: FacetCounts = field(default_factory=dict)
    rules: tuple[str, ...] = ()
    ranker: str | None = None
    budget: BudgetReport | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        return asdict(self)


class StageTimer:
    """Each stage's wall time in milliseconds (3 decimals), and the total since it was made."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.timings_ms: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        """Time the ``with`` block as ``stage``."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings_ms[stage] = round((time.perf_counter() - started) * 1000, 3)

    def finish(self) -> dict[str, float]:
        """The stages' times and ``total``."""
        self.timings_ms["total"] = round((time.perf_counter() - self.started) * 1000, 3)
        return self.timings_ms


class SearchService:
    """The search engines (index, reranker, score cache, embedding model) and the
    configuration (a frozen ``SearchConfig``) that one search runs through. ``missing_reranker``
    says why there is no reranker when its model is not available here."""

    def __init__(
        self,
        recall: Recall,
        reranker: Reranker | None,
        *,
        cache: ScoreCache | None = None,
        embedder: Embedder | None = None,
        config: SearchConfig | None = None,
        missing_reranker: MissingReranker | None = None,
    ) -> None:
        self.recall = recall
        self.reranker = reranker
        self.missing_reranker = missing_reranker if reranker is None else None
        self.cache = cache or NoScoreCache()
        self.embedder = embedder
        self.config = config or SearchConfig()
        self.understanding = QueryUnderstanding(recall, embedder, self.cache)

    def with_reranker(self, reranker: Reranker | None) -> SearchService:
        """A service on the same index, cache, embedding model and configuration, reranking
        with ``reranker`` (an experiment variant's model)."""
        return SearchService(
            self.recall, reranker, cache=self.cache, embedder=self.embedder, config=self.config,
            missing_reranker=self.missing_reranker,
        )  # fmt: skip

    def with_config(self, **changes: Any) -> SearchService:
        """A service on the same engines with ``changes`` to the configuration."""
        variant = self.with_reranker(self.reranker)
        variant.config = dataclasses.replace(self.config, **changes)
        return variant

    def understand(
        self,
        request: SearchRequest,
        timer: StageTimer | None = None,
        deadline: Deadline | None = None,
    ) -> QueryPlan:
        """How ``request``'s query will be searched: the text within the query's budget (the
        words over ``budget.max_terms`` cut first), the recall legs, its analysis languages,
        the lexical leg's options, the query vector (timed as ``dense``) and the budget's
        report. ``deadline`` is checked in the loops that can run long."""
        filters, budget = request.filters, self.config.budget
        text, dropped = cut_words(request.query, budget.max_terms)
        mode = self.understanding.mode(request.recall_mode, self.config.recall_mode)
        analyze_as, detected = self.understanding.languages(text, request.query_language, filters)
        text, lexical, report = self.understanding.lexical(
            text, analyze_as, filters, self.config.synonyms, self.config.typo_tolerance,
            budget=budget, deadline=deadline, words_dropped=dropped,
        )  # fmt: skip
        if report.cut:
            QUERY_BUDGET_CUTS.inc()
        if deadline is not None:
            deadline.check("dense")
        with timer("dense") if timer and mode != "bm25" else _untimed():
            vector, status, notice = self.understanding.dense(text, analyze_as, mode)
        return QueryPlan(
            text, filters, mode, analyze_as, detected, vector, status, notice, lexical, report
        )

    def search(
        self,
        request: SearchRequest,
        *,
        now: dt.datetime | None = None,
        trace: RankTrace | None = None,
        deadline: Deadline | None = None,
    ) -> SearchResult:
        """The page ``request`` asks for, through every stage in order (merchandising rules
        matched at ``now``, default the clock). ``trace`` (relevance order only) receives the
        learned ranker's candidates and features, computed even without a ranker (training).
        ``deadline`` (default: ``config.search_deadline`` from now) is checked between stages:
        cancelled, the search stops (``SearchAbandoned``); past it before the match set, it
        stops (``SearchTimeout``, 504); past it before ranking, the answer is in recall order
        (``degraded``). Raises ``InvalidQuery`` for a query with no searchable words or a
        recall mode without its model, ``EmbeddingMismatch`` when the index's vectors come from
        another model."""
        deadline = deadline or Deadline(self.config.search_deadline)
        try:
            return self._search(request, now, trace, deadline)
        except SearchStopped as exc:
            record_stop(deadline, exc)
            raise

    def _search(
        self,
        request: SearchRequest,
        now: dt.datetime | None,
        trace: RankTrace | None,
        deadline: Deadline,
    ) -> SearchResult:
        config = self.config
        timer = StageTimer()
        deadline.check("understand")
        with timer("understand"):
            plan = self.understand(request, timer, deadline)
            merch = self._merchandising(request, plan, now)
        ranker = config.ranker
        if ranker is not None and not (request.relevance and ranker.orders(plan.mode)):
            ranker = None  # another sort, or a recall mode it was not trained in
        learned = request.relevance and (ranker is not None or trace is not None)
        window = request.window(config.recall_k)
        deadline.check("recall")
        with timer("recall"):
            legs = self.recall.search_legs(
                plan.text if plan.mode != "dense" else None, plan.vector, limit=window,
                filters=plan.filters, analyze_as=plan.analyze_as, lexical=plan.lexical,
            )  # fmt: skip
        with timer("fuse"):
            pooled = fuse_legs(
                legs.bm25, legs.dense, config.fusion, match_floor=config.match_floor,
                limit=2 * window if learned else window,
            )  # fmt: skip
            fused = pooled[:window]
        deadline.check("match_set")
        with timer("match_set"):
            matched = match_set(
                self.recall, plan, merch, found=bool(fused), relevance=request.relevance,
                facets=request.facets, match_floor=config.match_floor, match_cap=config.match_cap,
                price_edges=config.price_edges, max_facet_values=config.max_facet_values,
            )  # fmt: skip
        deadline.check_cancelled("rank")
        # No time left to rank: recall order (training, with a trace, still wants features).
        late = deadline.expired() and trace is None
        with timer("rank"):
            scores = HeadScores()
            wanted = request.rerank and request.relevance and self.reranker is not None
            if wanted and fused and not late and self.reranker is not None:
                with timer("rerank"):
                    scores = score_head(
                        self.reranker, self.cache, plan.text, [f.hit for f in fused],
                        text_max_chars=config.rerank_text_max_chars,
                        deadline_ms=min(config.deadline_ms, deadline.remaining_ms()),
                        cancelled=lambda: deadline.cancelled,
                    )  # fmt: skip
            ranked_by = None
            if learned and pooled and not late:
                deadline.check_cancelled("ranker")
                with timer("ranker"):
                    model_scores = None
                    if scores.scores is not None:  # the unscored rest: missing, not zero
                        model_scores = [*scores.scores, *[None] * (len(pooled) - len(fused))]
                    ids = [f.hit.product.id for f in pooled]
                    priors = config.priors.priors(plan.text, ids) if config.priors else None

                    @functools.cache  # computed at most once, and only when needed
                    def features() -> np.ndarray:
                        return candidate_features(
                            plan, pooled, model_scores, corrections=legs.corrections,
                            priors=priors,
                        )  # fmt: skip

                    if trace is not None:
                        trace.product_ids, trace.features = ids, features()
                    if ranker is not None:
                        # A repeated candidate set reuses its scores; not while training
                        # (the trace wants the rows) nor with priors (they change over time).
                        key = None
                        if trace is None and not priors:
                            key = feature_key(
                                plan, pooled, model_scores, corrections=legs.corrections
                            )
                        learned_scores = ranker.score_once(key, features)
                        ranked = learned_head(pooled, learned_scores, model_scores, window)
                        ranked_by = ranker.label
            if ranked_by is None:
                ranked = rank_head(fused, scores.scores, window, request.blend, plan.mode)
        deadline.check_cancelled("rules")
        with timer("rules"):
            head = ruled_head(ranked, merch, [pin[1] for pin in matched.pins], self.recall)
        with timer("page"):
            page = answer_page(
                self.recall, config.fusion, plan, matched, ranked, head,
                sort=request.sort, page=request.page, size=request.size,
            )  # fmt: skip
        degraded = scores.scores is not None and scores.scored < len(fused)
        late_notice = None
        if late and (wanted or ranker is not None) and fused:
            degraded = True
            late_notice = LATE_NOTICE
        if degraded:
            DEGRADED_RESPONSES.inc()
        missing = self.missing_reranker if request.rerank and request.relevance else None
        notices = [n for n in (plan.notice, missing.notice if missing else None, late_notice) if n]
        return SearchResult(
            query=plan.text,
            items=page.items,
            candidates=len(pooled) if ranked_by else len(fused),
            language=reported_language(plan.text, plan.analyze_as),
            language_detected=plan.detected,
            reranked=scores.scored > 0,
            model=self.reranker.model_id if scores.scored and self.reranker else None,
            degraded=degraded,
            scored=scores.scored,
            cached=scores.cached,
            timings_ms=timer.finish(),
            stages=self._stages(request, plan, scores, merch, ranked_by),
            recall_mode=plan.mode,
            product_locale=plan.filters.locale,
            vectors_pending=plan.status.without_vector if plan.status else 0,
            notice="; ".join(notices) or None,
            corrections=list(legs.corrections),
            synonyms=list(plan.lexical.synonyms) if plan.lexical else [],
            did_you_mean=legs.did_you_mean,
            total=page.total,
            total_exact=page.total_exact,
            page=request.page,
            size=request.size,
            sort=request.sort,
            has_more=page.has_more,
            facets=matched.facets,
            rules=merch.rules,
            ranker=ranked_by,
            budget=plan.budget,
        )

    def _stages(
        self,
        request: SearchRequest,
        plan: QueryPlan,
        scores: HeadScores,
        merch: Merchandising,
        ranked_by: str | None,
    ) -> list[str]:
        """The stages that made this answer's order, in the order they ran: the one place a
        response's ``stages`` is built."""
        stages = []
        if plan.mode != "dense":
            stages.append("recall:bm25")
        if plan.mode != "bm25" and plan.vector is not None:
            stages.append("recall:dense")
        stages.append("fuse")
        if scores.scored and self.reranker is not None:
            stages.append(f"rerank:{self.reranker.model_id}")
        if ranked_by is not None:  # after the cross-encoder: its score is one of the features
            stages.append(f"ranker:{ranked_by}")
        if merch.rules:
            stages.append("rules")
        if request.sort != "relevance":
            stages.append(f"sort:{request.sort}")
        return stages

    def _merchandising(
        self, request: SearchRequest, plan: QueryPlan, now: dt.datetime | None
    ) -> Merchandising:
        """The merchandising rules the query meets at ``now``: those of every language and
        those of the languages it is known to be in (``known_languages``)."""
        rules = self.config.rules() if self.config.rules is not None else None
        if rules is None or not len(rules):
            return NOTHING
        languages = known_languages(
            plan.text, stated=request.query_language is not None, analyze_as=plan.analyze_as,
            detected=plan.detected, filter_language=plan.filters.language,
        )  # fmt: skip
        return rules.plan(plan.text, languages, now or dt.datetime.now(dt.UTC))

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


@contextmanager
def _untimed() -> Iterator[None]:
    yield


def make_service(
    settings: Settings,
    *,
    rerank: bool = True,
    recall: Recall | None = None,
    embedder: Embedder | None = None,
    synonyms: Callable[[], SynonymSet] | None = None,
    rules: Callable[[], RuleSet | None] | None = None,
    without_missing_model: bool = False,
) -> SearchService:
    """The service the settings describe: its recall backend (or ``recall``), embedding model
    (or ``embedder``), score cache, (if asked for) reranker and learned ranker
    (``SHELF_RANKER``), configured by ``search_config``; ``synonyms`` and ``rules`` give the
    rules to apply. ``without_missing_model``: when the
    reranker's model is not on this machine (``ModelMissing``), search without it
    (``SearchService.missing_reranker`` says why) instead of raising."""
    from search.ranking.model import load_ranker
    from search.recall.factory import make_recall
    from search.rerank.cache import make_score_cache
    from search.rerank.rerankers import available_reranker, make_reranker

    if embedder is None and settings.recall_mode != "bm25":
        from workers.embedding.factory import make_embedder

        embedder = make_embedder(settings)
    cache = make_score_cache(settings)
    config = dataclasses.replace(
        search_config(settings), synonyms=synonyms, rules=rules, ranker=load_ranker(settings.ranker)
    )
    reranker: Reranker | None = None
    missing: MissingReranker | None = None
    if rerank and without_missing_model:
        reranker, missing = available_reranker(settings, cache)
    elif rerank:
        reranker = make_reranker(settings, cache)
    if reranker is not None and config.ranker is not None and not config.ranker.uses_cross_encoder:
        log.warning(
            "SHELF_RANKER=%s was trained without the cross-encoder's score and gives it no "
            "weight: the cross-encoder (%s) runs but does not change the order. Train a ranker "
            "that uses it (`shelf ranker train --rerank`), or set SHELF_RANKER=none to order "
            "by the cross-encoder as before.",
            settings.ranker,
            reranker.model_id,
        )
    return SearchService(
        recall or make_recall(settings),
        reranker,
        cache=cache,
        embedder=embedder,
        config=config,
        missing_reranker=missing,
    )
