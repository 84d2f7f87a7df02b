"""The FastAPI application: components built once at start-up, errors mapped in one place."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from catalog.language import warm_up as warm_up_language_detector
from search import __version__
from search.api.components import Components, components_of
from search.api.middleware.admission import SearchAdmission
from search.api.middleware.hygiene import InputHygieneMiddleware
from search.api.middleware.limits import BodySizeLimitMiddleware
from search.api.middleware.logging import RequestContextMiddleware
from search.embedding.backfill import BackgroundEmbedder
from search.embedding.cache import EmbeddingCache
from search.errors import ConfigError, ShelfError
from search.events.impressions import ImpressionWriter
from search.events.log import make_event_log
from search.events.refreshed import Refreshed
from search.experiments.registry import RunningExperiments
from search.experiments.variants import VariantServices
from search.merchandising.book import RuleBook
from search.pipeline.service import make_service
from search.settings import Settings, get_settings
from search.suggest.service import make_suggestions
from search.synonyms.model import SynonymSet
from search.synonyms.store import SynonymStore

log = logging.getLogger(__name__)

__all__ = ["Components", "build_components", "close_components", "components_of", "create_app"]


def build_components(settings: Settings) -> Components:
    """Open the index, the cache, the reranker (model loaded and warmed in local mode), the
    event store, the impression writer, and the synonym rules' snapshot (loaded)."""
    event_log = make_event_log(settings)
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
    )
    service = make_service(settings, synonyms=synonyms.get)
    if service.reranker is None:  # make_service builds one unless told not to
        raise ConfigError("the search service was built without a reranker")
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
    impressions = ImpressionWriter(
        event_log,
        max_queued=settings.impression_queue_size,
        linger_s=settings.impression_linger_ms / 1000,
    )
    synonyms.start()  # loaded before the first search, then every SHELF_SYNONYMS_REFRESH_S
    suggestions = make_suggestions(settings, event_log.engine, event_log.tables.searches)
    suggestions.start()
    rules = RuleBook(
        event_log.engine,
        service.recall,
        table_prefix=settings.events_table_prefix,
        max_rules=settings.rules_max,
        refresh_s=settings.rules_refresh_s,
    )
    rules.start()
    service = service.with_config(rules=rules.current)  # what searches apply
    variants = VariantServices(settings, service)
    experiments = RunningExperiments(
        event_log, refresh_s=settings.experiments_refresh_s, prepare=variants.prepare
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
    components.event_log.close()
    components.variants.close()
    components.service.close()


def error_body(type_: str, message: str) -> dict[str, Any]:
    """The one error envelope every non-2xx answer uses."""
    return {"error": {"type": type_, "message": message}}


_HTTP_LOCATIONS = ("body", "query", "header", "path", "cookie")


def _validation_message(exc: RequestValidationError) -> str:
    """The first five errors as ``field: message`` (the HTTP part of the location left out).

    A body that may take several shapes (``/rerank``: Cohere's or TEI's) fails once per shape,
    each error tagged with the shape's model name: only the shape the caller's body comes
    closest to is reported (fewest missing fields, then fewest errors), without the tag, so a
    Cohere caller is not told that TEI's ``texts`` is missing."""
    errors = [_located(error) for error in exc.errors()]
    shapes: dict[str, list[tuple[list[str], dict[str, Any]]]] = {}
    for loc, error in errors:
        if len(loc) > 1 and loc[0][:1].isupper():  # fields are snake_case; models CamelCase
            shapes.setdefault(loc[0], []).append((loc[1:], error))
    if shapes:
        closest = min(
            shapes.values(),
            key=lambda found: (sum(e.get("type") == "missing" for _, e in found), len(found)),
        )
        errors = [item for item in errors if not (item[0] and item[0][0] in shapes)] + closest
    parts = [_part(loc, error) for loc, error in errors]
    return "; ".join(parts[:5])


def _part(loc: list[str], error: dict[str, Any]) -> str:
    """One error as ``field: message``; a body that is not JSON says so, and where."""
    if error.get("type") == "json_invalid":
        at = f" at character {loc[-1]}" if loc else ""
        why = (error.get("ctx") or {}).get("error", "")
        return f"body: not valid JSON{at}" + (f" ({why})" if why else "")
    return f"{'.'.join(loc) or 'body'}: {error.get('msg', 'invalid')}"


def _located(error: Any) -> tuple[list[str], dict[str, Any]]:
    """An error's location as strings, the HTTP part (``body``, ``query``...) left out: only the
    first part says where, and a body field may itself be called ``query``."""
    loc = [str(p) for p in error.get("loc", ())]
    if loc and loc[0] in _HTTP_LOCATIONS:
        loc = loc[1:]
    return loc, error


def install_error_handlers(app: FastAPI) -> None:
    """Map every error to ``{"error": {...}}`` with its status: the one place that does it."""

    @app.exception_handler(ShelfError)
    async def shelf_error(request: Request, exc: ShelfError) -> JSONResponse:
        if exc.status_code >= 500:
            log.warning("request failed: %s", exc, extra={"error_type": type(exc).__name__})
        return JSONResponse(error_body(type(exc).__name__, str(exc)), exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(error_body("ValidationError", _validation_message(exc)), 422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        name = {
            404: "NotFound",
            405: "MethodNotAllowed",
            413: "PayloadTooLarge",
            422: "ValidationError",
        }
        return JSONResponse(
            error_body(name.get(exc.status_code, "HTTPError"), str(exc.detail)),
            exc.status_code,
            headers=exc.headers,
        )

    @app.exception_handler(sa.exc.SQLAlchemyError)
    async def event_store_error(request: Request, exc: sa.exc.SQLAlchemyError) -> JSONResponse:
        log.warning("event store failed: %s", exc, extra={"error_type": type(exc).__name__})
        if isinstance(exc, _STORE_DOWN):
            return JSONResponse(
                error_body(
                    "EventStoreUnavailable",
                    "the event store (SHELF_EVENTS_URL) cannot be reached; nothing was stored "
                    "by this request: retry shortly",
                ),
                503,
                headers={"Retry-After": "1"},
            )
        return JSONResponse(
            error_body(
                "EventStoreError",
                f"the event store refused the request ({type(exc).__name__}); nothing was "
                "stored by it: report it with the X-Request-ID",
            ),
            500,
        )

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        # Starlette logs and re-raises after answering: the caller still gets the JSON shape.
        return JSONResponse(
            error_body("InternalError", "Shelf failed to answer: report it with the X-Request-ID"),
            500,
        )


# The store could not be reached or answered in time (503, retry), as opposed to refusing what
# was sent (500: after validation at the edge, a refused write is Shelf's bug).
_STORE_DOWN = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The Shelf API for ``settings`` (the environment's when None)."""
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
        # Each admitted search holds a thread while the model scores: room for all of them.
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = max(limiter.total_tokens, settings.api_max_in_flight + 16)
        components = build_components(settings)
        app.state.components = components
        log.info("shelf api ready", extra={"recall_backend": settings.recall_backend})
        try:
            yield
        finally:
            close_components(components)

    app = FastAPI(
        title="Shelf",
        version=__version__,
        description="Multilingual product search: BM25 recall, cross-encoder reranking.",
        lifespan=lifespan,
    )

    # Routes read settings through this dependency; tests swap it with dependency_overrides.
    # Async, as components_of: a sync dependency costs a trip through the thread pool.
    async def app_settings() -> Settings:
        return settings

    app.dependency_overrides[get_settings] = app_settings
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
    return app
