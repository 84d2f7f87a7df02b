"""Admission at the edge: a search is let in only if it can plausibly be answered in time.

Plain ASGI in front of ``GET /search``, on the event loop: a refused search is answered with
Shelf's JSON 503 and ``Retry-After`` in about a millisecond, before it takes a server thread.
Waiting for a thread is what made overloads slow: under 3x load, searches queued for the
40-thread pool before any check ran, 503s took 5.2 s, and the model kept scoring for searches
that had given up.

A search is refused when
- ``SHELF_API_MAX_IN_FLIGHT`` searches are already being answered (each holds a thread while it
  waits for the model), or
- the reranking model is behind: the pairs queued and running, at the model's measured rate,
  would take longer than ``SHELF_API_MAX_QUEUE_WAIT_MS`` (capped by ``SHELF_RERANK_DEADLINE_MS``).
  Searches that ask for no reranking (``rerank=false``) skip this check.

A search's own pairs are not known here (recall and the score cache decide them): the model's
queue checks them when they arrive, against the search's deadline, and a search whose pairs do
not fit is answered in recall order (``degraded``). An estimate of them at the edge (an average
of recent requests) was tried and dropped: one large ``/rerank`` call inflated it until every
search was refused, and nothing admitted could bring it down.

Admission is all here: the edge check above (``SearchAdmission``), the check a search makes
when it gets its thread (``shed_if_behind``: it queued past ``SHELF_API_MAX_QUEUE_WAIT_MS``),
and the size of the thread pool the admitted searches run in (``reserve_threads``).
"""

from __future__ import annotations

import math
import time
from typing import Any
from urllib.parse import parse_qs

import anyio.to_thread
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from search.api.errors import send_error
from search.errors import Overloaded
from search.metrics import SHED_REQUESTS
from search.settings import Settings

SEARCH_PATH = "/search"
_NO_RERANK = {"0", "false", "off", "no"}
# Threads beyond the admitted searches' own: other routes and the dependencies FastAPI runs in
# the pool must not wait behind a full set of searches.
_SPARE_THREADS = 16


def reserve_threads(settings: Settings) -> None:
    """Size the thread pool so every admitted search has a thread while the model scores (each
    holds one): ``SHELF_API_MAX_IN_FLIGHT`` plus spare, never fewer than the pool has."""
    limiter = anyio.to_thread.current_default_thread_limiter()
    limiter.total_tokens = max(limiter.total_tokens, settings.api_max_in_flight + _SPARE_THREADS)


def shed_if_behind(request: Request, settings: Settings) -> None:
    """Admission control: a search that queued for a thread past the limit is answered 503 at
    once, so an overload sheds load instead of letting every request's latency grow."""
    arrived = getattr(request.state, "arrived", None)
    if arrived is None:
        return
    waited_ms = (time.monotonic() - arrived) * 1000
    if waited_ms > settings.api_max_queue_wait_ms:
        SHED_REQUESTS.inc()
        raise Overloaded(
            f"Shelf is behind: this search waited {waited_ms:.0f} ms before it could start "
            f"(SHELF_API_MAX_QUEUE_WAIT_MS={settings.api_max_queue_wait_ms}); retry shortly"
        )


class SearchAdmission:
    """Counts the searches being answered and refuses, at once, those that would be late."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.max_in_flight = settings.api_max_in_flight
        self.budget_s = min(settings.api_max_queue_wait_ms, settings.rerank_deadline_ms) / 1000
        self.in_flight = 0  # only the event loop's thread changes it
        self._route: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass ``GET /search`` on while it fits, else answer 503; anything else passes."""
        if scope["type"] != "http" or scope["path"] != SEARCH_PATH or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        refusal = self.refusal(scope)
        if refusal is not None:
            message, retry_after_s = refusal
            route = self._search_route(scope)
            await _overloaded(scope, receive, send, message, retry_after_s, route)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1

    def refusal(self, scope: Scope) -> tuple[str, int] | None:
        """Why this search is refused and when to retry (s), or None to admit it."""
        if self.in_flight >= self.max_in_flight:
            return (
                f"Shelf is answering {self.in_flight} searches already "
                f"(SHELF_API_MAX_IN_FLIGHT={self.max_in_flight}); retry shortly",
                1,
            )
        if not _wants_rerank(scope):
            return None
        components = getattr(scope["app"].state, "components", None)
        reranker = getattr(getattr(components, "service", None), "reranker", None)
        if reranker is None:
            return None
        wait_s = reranker.wait_estimate_s()
        if wait_s is None or wait_s <= self.budget_s:
            return None
        return (
            f"Shelf is behind: the reranking model needs about {wait_s * 1000:.0f} ms for the "
            f"work already admitted; a search may wait {self.budget_s * 1000:.0f} ms "
            "(SHELF_API_MAX_QUEUE_WAIT_MS, at most SHELF_RERANK_DEADLINE_MS); retry shortly",
            max(1, math.ceil(wait_s - self.budget_s)),
        )

    def _search_route(self, scope: Scope) -> Any:
        """The ``/search`` route, so a refused search is counted under it in the metrics."""
        if self._route is None:
            for route in getattr(scope["app"], "routes", ()):
                if getattr(route, "path", None) == SEARCH_PATH:
                    self._route = route
                    break
        return self._route


def _wants_rerank(scope: Scope) -> bool:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("rerank")
    return not values or values[-1].strip().lower() not in _NO_RERANK


async def _overloaded(
    scope: Scope, receive: Receive, send: Send, message: str, retry_after_s: int, route: Any
) -> None:
    """Shelf's JSON error envelope with 503 and ``Retry-After``, sent from the event loop."""
    SHED_REQUESTS.inc()
    if route is not None:
        scope["route"] = route
    headers = {"Retry-After": str(retry_after_s)}
    await send_error(scope, receive, send, 503, Overloaded.__name__, message, headers=headers)
