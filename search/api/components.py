"""What the routes share: the components the lifespan builds once per process.

Its own module so the route modules and ``search.api.app`` (which includes the routes) both
import it, and neither imports the other.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import Request

from search.embedding.backfill import BackgroundEmbedder
from search.errors import ModelUnavailable
from search.events.impressions import ImpressionWriter
from search.events.log import EventLog
from search.events.refreshed import Freshness, Refreshed
from search.events.spool import EventSpool
from search.experiments.registry import RunningExperiments
from search.experiments.variants import VariantServices
from search.merchandising.book import RuleBook
from search.pipeline.service import SearchService
from search.recall import Recall
from search.rerank.cache import ScoreCache
from search.rerank.rerankers import Reranker
from search.settings import Settings
from search.suggest.service import Suggestions
from search.synonyms.model import SynonymSet
from search.synonyms.store import SynonymStore


@dataclass
class Components:
    """What the routes share, built once per process by the lifespan."""

    service: SearchService  # the default search; its recall, cache and reranker are shared
    event_log: EventLog
    impressions: ImpressionWriter
    experiments: RunningExperiments
    variants: VariantServices
    synonym_store: SynonymStore  # the rules as stored (the /synonyms routes write here)
    synonyms: Refreshed[SynonymSet]  # what searches apply: the store's last snapshot
    embedding: BackgroundEmbedder | None = None  # embeds what lacks a vector, off the path
    suggestions: Suggestions | None = None  # rebuilt in the background, off the path
    rules: RuleBook | None = None  # merchandising rules: managed here, applied to searches
    spool: EventSpool | None = None  # impressions and events while the event store is down
    # When a search was shown (its impression's time): the wall clock, or a simulation's.
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))

    def freshness(self) -> list[Freshness]:
        """How current each snapshot read from the event store is: synonyms, rules and
        experiments (what searches apply), then suggestions' popular queries."""
        parts = [self.synonyms.freshness()]
        if self.rules is not None:
            parts.append(self.rules.freshness())
        parts.append(self.experiments.freshness())
        if self.suggestions is not None:
            parts.append(self.suggestions.freshness())
        return parts

    @property
    def recall(self) -> Recall:
        """The product index."""
        return self.service.recall

    @property
    def cache(self) -> ScoreCache:
        """The score cache."""
        return self.service.cache

    @property
    def reranker(self) -> Reranker:
        """The default model's reranker; ``ModelUnavailable`` (503) when its model is not
        available here (searches then run without it)."""
        if self.service.reranker is None:
            missing = self.service.missing_reranker
            raise ModelUnavailable(missing.reason if missing else "no reranking model loaded")
        return self.service.reranker


async def settings_of(request: Request) -> Settings:
    """Dependency: the settings ``create_app`` was given (tests swap them with
    ``app.dependency_overrides[settings_of]``). Not ``get_settings`` overridden app-wide: any
    override makes FastAPI rebuild every route's dependencies on every request."""
    settings: Settings = request.app.state.settings
    return settings


async def components_of(request: Request) -> Components:
    """Dependency: the components the lifespan built (async: read on the event loop, no trip
    through the thread pool)."""
    components: Components = request.app.state.components
    return components
