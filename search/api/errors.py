"""Shelf's HTTP errors, in one place: the envelope every non-2xx answer uses
(``{"error": {"type": ..., "message": ...}}``), the status each error maps to, and the
handlers that apply them.

A ``ShelfError`` answers with its class's ``status_code`` (``search.errors``); Starlette's
``HTTPException`` with its own status, named by ``HTTP_ERROR_TYPES``; the event store's errors
with 503 (unreachable, retry) or 500. Middleware that answers before a route runs (admission,
input hygiene) sends the same envelope with ``send_error``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from search.errors import ShelfError, is_engine_panic

log = logging.getLogger(__name__)

# The type an ``HTTPException`` (raised by Starlette, or by Shelf below a route) is answered as.
HTTP_ERROR_TYPES = {
    404: "NotFound",
    405: "MethodNotAllowed",
    413: "PayloadTooLarge",
    422: "ValidationError",
}


def error_body(type_: str, message: str, **details: Any) -> dict[str, Any]:
    """The one error envelope every non-2xx answer uses; ``details`` (e.g. an import's
    ``rejects``) go beside the type and the message."""
    return {"error": {"type": type_, "message": message, **details}}


def error_response(
    status: int,
    type_: str,
    message: str,
    headers: Mapping[str, str] | None = None,
    **details: Any,
) -> JSONResponse:
    """The envelope as a response with ``status``."""
    return JSONResponse(error_body(type_, message, **details), status, headers=headers)


async def send_error(
    scope: Scope,
    receive: Receive,
    send: Send,
    status: int,
    type_: str,
    message: str,
    headers: Mapping[str, str] | None = None,
) -> None:
    """The envelope sent from ASGI middleware, before any route (or FastAPI) runs."""
    await error_response(status, type_, message, headers=headers)(scope, receive, send)


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

    app.add_middleware(UnexpectedErrorMiddleware)  # innermost: just outside the handlers

    @app.exception_handler(ShelfError)
    async def shelf_error(request: Request, exc: ShelfError) -> JSONResponse:
        if exc.status_code >= 500:
            log.warning("request failed: %s", exc, extra={"error_type": type(exc).__name__})
        headers = getattr(exc, "headers", None)  # e.g. Retry-After on a 503 worth retrying
        return error_response(exc.status_code, type(exc).__name__, str(exc), headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "ValidationError", _validation_message(exc))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        type_ = HTTP_ERROR_TYPES.get(exc.status_code, "HTTPError")
        return error_response(exc.status_code, type_, str(exc.detail), headers=exc.headers)

    @app.exception_handler(sa.exc.SQLAlchemyError)
    async def event_store_error(request: Request, exc: sa.exc.SQLAlchemyError) -> JSONResponse:
        log.warning("event store failed: %s", exc, extra={"error_type": type(exc).__name__})
        if isinstance(exc, _STORE_DOWN):
            return error_response(
                503,
                "EventStoreUnavailable",
                "the event store (SHELF_EVENTS_URL) cannot be reached; nothing was stored "
                "by this request: retry shortly",
                headers={"Retry-After": "1"},
            )
        return error_response(
            500,
            "EventStoreError",
            f"the event store refused the request ({type(exc).__name__}); nothing was "
            "stored by it: report it with the X-Request-ID",
        )

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        # Starlette logs and re-raises after answering: the caller still gets the JSON shape.
        return error_response(500, "InternalError", INTERNAL_ERROR)


INTERNAL_ERROR = "Shelf failed to answer: report it with the X-Request-ID"


class UnexpectedErrorMiddleware:
    """What no handler took (a tantivy panic, a ``BaseException`` that ``except Exception`` lets
    through; any other unexpected error) is answered with the JSON 500 and the request id,
    logged with its traceback, and not raised further: uvicorn closes the connection of a
    request whose exception escapes the app, even after the answer was sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; answer what escapes it, when nothing was sent yet."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_tracked)
        except BaseException as exc:
            if started or not (isinstance(exc, Exception) or is_engine_panic(exc)):
                raise
            request_id = scope.get("state", {}).get("request_id")
            kind = type(exc).__name__
            log.error("request failed", exc_info=exc,
                      extra={"error_type": kind, "request_id": request_id})  # fmt: skip
            response = error_response(500, "InternalError", INTERNAL_ERROR, request_id=request_id)
            await response(scope, receive, send)


# The store could not be reached or answered in time (503, retry), as opposed to refusing what
# was sent (500: after validation at the edge, a refused write is Shelf's bug).
_STORE_DOWN = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError)
