"""The search service's configuration: one frozen value, built from ``Settings`` once.

A variant (an experiment's, ``shelf eval``'s) is this value with fields replaced
(``dataclasses.replace``), never a copied service, so no setting can be lost on the way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from search.query.budget import QueryBudget
from search.recall.fusion import FusionWeights
from search.settings import Settings

if TYPE_CHECKING:
    from search.merchandising.apply import RuleSet
    from search.ranking.features import PriorSource
    from search.ranking.model import LearnedRanker
    from search.synonyms.model import SynonymSet

RecallMode = Literal["bm25", "dense", "hybrid"]
# Beyond the rerank deadline, what a search's other stages may take when no search deadline is
# set (SHELF_SEARCH_DEADLINE_MS unset).
OTHER_STAGES_MS = 3000
DEFAULT_PRICE_EDGES: tuple[float, ...] = (10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0)


@dataclass(frozen=True)
class SearchConfig:
    """How the service searches: recall mode, fusion, the rerank window (``recall_k``), the
    rerank text length (characters) and deadline (ms), the dense match floor (cosine) and cap,
    typo tolerance, the price facet's edges and the most values a facet lists; ``synonyms`` and
    ``rules`` give the rules in force (called once per search: a refreshed snapshot);
    ``ranker`` orders the candidates in relevance order (None: the fused order) and ``priors``
    gives its popularity and CTR features (None: missing). ``budget`` bounds one query's terms
    and clauses, ``search_deadline_ms`` its wall time (None: ``deadline_ms`` plus
    ``OTHER_STAGES_MS``)."""

    recall_mode: RecallMode = "hybrid"
    fusion: FusionWeights = field(default_factory=FusionWeights)
    recall_k: int = 50
    rerank_text_max_chars: int = 1200
    deadline_ms: float = 2000
    match_floor: float = 0.0
    match_cap: int = 10_000
    typo_tolerance: bool = True
    price_edges: tuple[float, ...] = DEFAULT_PRICE_EDGES
    max_facet_values: int = 100
    synonyms: Callable[[], SynonymSet] | None = None
    rules: Callable[[], RuleSet | None] | None = None
    ranker: LearnedRanker | None = None
    priors: PriorSource | None = None
    budget: QueryBudget = field(default_factory=QueryBudget)
    search_deadline_ms: float | None = None

    @property
    def search_deadline(self) -> float:
        """A search's wall-time budget in ms (``search_deadline_ms``, else the rerank
        deadline plus ``OTHER_STAGES_MS``)."""
        return self.search_deadline_ms or self.deadline_ms + OTHER_STAGES_MS


# Each configuration field and the setting (``SHELF_`` + its name in capitals) it comes from.
FROM_SETTINGS: dict[str, str] = {
    "recall_mode": "recall_mode",
    "recall_k": "recall_k",
    "rerank_text_max_chars": "rerank_text_max_chars",
    "deadline_ms": "rerank_deadline_ms",
    "match_floor": "dense_match_min_similarity",
    "match_cap": "dense_match_max",
    "typo_tolerance": "typo_tolerance",
    "max_facet_values": "facet_max_values",
}


def search_config(settings: Settings) -> SearchConfig:
    """The configuration ``settings`` name (no synonym or merchandising rules: the caller
    replaces ``synonyms`` and ``rules`` with its sources)."""
    return SearchConfig(
        fusion=fusion_weights(settings),
        price_edges=tuple(settings.facet_price_edges),
        budget=QueryBudget(settings.search_max_terms, settings.search_max_clauses),
        search_deadline_ms=settings.search_deadline_ms,
        **{name: getattr(settings, setting) for name, setting in FROM_SETTINGS.items()},
    )


# Each fusion weight and the setting it comes from.
FUSION_FROM_SETTINGS: dict[str, str] = {
    "k": "fusion_k",
    "bm25": "fusion_bm25_weight",
    "dense": "fusion_dense_weight",
    "bm25_floor": "fusion_bm25_floor",
    "dense_alone_min": "dense_alone_min_similarity",
}


def fusion_weights(settings: Settings) -> FusionWeights:
    """RRF's k, the legs' weights, the BM25 floor and the dense-alone minimum the settings
    name."""
    return FusionWeights(
        **{name: getattr(settings, setting) for name, setting in FUSION_FROM_SETTINGS.items()}
    )
