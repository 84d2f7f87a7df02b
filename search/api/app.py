"""The FastAPI application: components built once at start-up, errors mapped in one place
(``search.api.errors``)."""

from __future__ import annotations

import datetime as dt
import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from catalog.language import warm_up as warm_up_language_detector
from search import __version__
from search.api.components import Components, components_of
from search.api.errors import install_error_handlers
from search.api.middleware.admission import SearchAdmission, reserve_threads
from search.api.middleware.hygiene import InputHygieneMiddleware
from search.api.middleware.limits import BodySizeLimitMiddleware
from search.api.middleware.logging import RequestContextMiddleware
from search.api.middleware.proxies import install_proxy_headers
from search.embedding.backfill import BackgroundEmbedder
from search.embedding.cache import EmbeddingCache
from search.errors import ConfigError
from search.events.impressions import ImpressionWriter
from search.events.log import make_event_log
from search.events.refreshed import LastGood, Refreshed
from search.events.spool import EventSpool
from search.experiments.registry import RunningExperiments
from search.experiments.variants import VariantServices
from search.merchandising.book import RuleBook
from search.pipeline.service import make_service
from search.pipeline.stored_rules import synonyms_copy
from search.settings import Settings, get_settings
from search.suggest.service import make_suggestions
from search.synonyms.model import SynonymSet
from search.synonyms.store import SynonymStore

log = logging.getLogger(__name__)

__all__ = ["Components", "build_components", "close_components", "components_of", "create_app"]


def build_components(
    settings: Settings, *, clock: Callable[[], dt.datetime] | None = None
) -> Components:
    """Open the index, the cache, the reranker (model loaded and warmed in local mode), the
    event store, the impression writer, and the synonym rules' snapshot (loaded); ``clock``
    stamps impressions (default: the wall clock; a simulation passes its own). A reranking model
    that is not on this machine (offline) is logged once, as a warning with what to do, and
    searches run without it; one that is present but broken stops the start."""
    event_log = make_event_log(settings)  # connects on first use: the store may be down
    last_good = LastGood.of(
        settings.last_good_path, settings.events_database_url, settings.events_table_prefix
    )
    synonym_store = SynonymStore(
        event_log.engine,
        table_prefix=settings.events_table_prefix,
        max_rules=settings.synonyms_max_rules,
    )
    synonyms = Refreshed(
        synonym_store.snapshot,
        SynonymSet(),
        refresh_s=settings.synonyms_refresh_s,
        name="synonyms",
        copy=synonyms_copy(last_good),
    )
    service = make_service(settings, synonyms=synonyms.get, without_missing_model=True)
    if service.missing_reranker is not None:
        log.warning(
            "%s",
            service.missing_reranker.announcement(),
            extra={"model": service.missing_reranker.model},
        )
    elif service.reranker is None:  # make_service builds one unless told not to
        raise ConfigError("the search service was built without a reranker")
    else:
        service.reranker.warm_up()
    warm_up_language_detector()  # lazily it cost the first search after /readyz 4.8 s
    embedding = None
    if service.embedder is not None:
        service.embedder.warm_up()
        if settings.embed_in_background:
            embedding = BackgroundEmbedder(
                service.recall,
                service.embedder,
                batch_size=settings.embed_batch_size,
                cache=EmbeddingCache(settings.embed_cache_path),
            )
            embedding.start()
    spool = EventSpool(
        event_log,
        settings.spool_file,
        join_wait_s=settings.spool_join_wait_s,
        backoff_max_s=settings.spool_backoff_max_s,
        retry_after_s=settings.spool_retry_after_s,
    )
    impressions = ImpressionWriter(
        event_log,
        max_queued=settings.impression_queue_size,
        linger_s=settings.impression_linger_ms / 1000,
        spool=spool,
        retry_max_s=settings.spool_backoff_max_s,
    )
    spool.pending_elsewhere = impressions.pending_request_ids
    spool.start()  # drains what an earlier run left, then whatever an outage spools
    synonyms.start()  # loaded before the first search, then every SHELF_SYNONYMS_REFRESH_S
    suggestions = make_suggestions(settings, event_log.engine, event_log.tables, last_good)
    suggestions.start()
    rules = RuleBook(
        event_log.engine,
        service.recall,
        table_prefix=settings.events_table_prefix,
        max_rules=settings.rules_max,
        refresh_s=settings.rules_refresh_s,
        last_good=last_good,
    )
    rules.start()
    service = service.with_config(rules=rules.current)  # what searches apply
    variants = VariantServices(settings, service)
    experiments = RunningExperiments(
        event_log,
        refresh_s=settings.experiments_refresh_s,
        prepare=variants.prepare,
        last_good=last_good,
    )
    experiments.start()
    return Components(
        service,
        event_log,
        impressions,
        experiments,
        variants,
        synonym_store=synonym_store,
        synonyms=synonyms,
        embedding=embedding,
        suggestions=suggestions,
        rules=rules,
        spool=spool,
        **({} if clock is None else {"clock": clock}),
    )


def close_components(components: Components) -> None:
    """Stop embedding, write the queued impressions, then release the store, the models and
    the index."""
    if components.embedding is not None:
        components.embedding.stop()
    components.experiments.close()
    components.synonyms.close()
    if components.suggestions is not None:
        components.suggestions.close()
    if components.rules is not None:
        components.rules.close()
    components.impressions.close()
    if components.spool is not None:
        components.spool.close()
    components.event_log.close()
    components.variants.close()
    components.service.close()


def create_app(
    settings: Settings | None = None, *, clock: Callable[[], dt.datetime] | None = None
) -> FastAPI:
    """The Shelf API for ``settings`` (the environment's when None); ``clock`` stamps the
    searches shown (default: the wall clock; ``bench/learning_loop.py`` simulates two weeks)."""
    from search.api.routes import (
        analytics as routes_analytics,
    )
    from search.api.routes import (
        dashboard as routes_dashboard,
    )
    from search.api.routes import (
        events as routes_events,
    )
    from search.api.routes import (
        experiments as routes_experiments,
    )
    from search.api.routes import (
        ops as routes_ops,
    )
    from search.api.routes import (
        planning as routes_planning,
    )
    from search.api.routes import (
        rerank as routes_rerank,
    )
    from search.api.routes import (
        rules as routes_rules,
    )
    from search.api.routes import search as routes_search
    from search.api.routes import suggest as routes_suggest
    from search.api.routes import synonyms as routes_synonyms

    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        reserve_threads(settings)  # a thread for every search admission lets in
        components = build_components(settings, clock=clock)
        app.state.components = components
        # Everything built so far (the models, the index, the tokenisers: about half a million
        # objects) lives as long as the server. Frozen, the collector stops walking it: a full
        # collection of that heap paused one search for 0.4 s here, at p99 under load.
        gc.collect()
        gc.freeze()
        log.info("shelf api ready", extra={"recall_backend": settings.recall_backend})
        try:
            yield
        finally:
            gc.unfreeze()
            close_components(components)

    app = FastAPI(
        title="Shelf",
        version=__version__,
        description="Multilingual product search: BM25 recall, cross-encoder reranking.",
        lifespan=lifespan,
    )

    # Routes read these through ``settings_of``; tests swap it with dependency_overrides.
    app.state.settings = settings
    install_error_handlers(app)
    routers = (
        routes_search,
        routes_rerank,
        routes_events,
        routes_planning,  # before /experiments/{id}
        routes_experiments,
        routes_ops,
        routes_dashboard,
        routes_synonyms,
        routes_suggest,
        routes_rules,
        routes_analytics,
    )
    for module in routers:
        app.include_router(module.router)
    app.add_middleware(SearchAdmission, settings=settings)  # inside: its 503s get request ids
    app.add_middleware(InputHygieneMiddleware)  # control characters in the path and query
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.api_max_body_bytes)
    app.add_middleware(RequestContextMiddleware)
    install_proxy_headers(app, settings)  # outermost: every layer sees the forwarded client
    return app
