"""Structured JSON logs carrying the request id, and the middleware that assigns it.

Every request gets a request id: the caller's ``X-Request-ID`` when it is a sane token (letters,
digits, ``._:-``, at most 64 characters) that this process has not seen recently, else a new one.
It is returned in the ``X-Request-ID`` response header, put in every log line written while the
request runs, and used as the search's ``request_id`` that events refer back to.

A caller's id sent again (a retry, a client bug) is not reused: two searches under one id would
share one impression and their clicks one search. The second request gets a fresh id, and the
response says so: ``X-Request-ID`` is the fresh id and ``X-Request-ID-Supplied`` echoes the
caller's (the log line carries it as ``client_request_id``). The recent ids are a bounded set per
process; a reuse it cannot see (another server process, or one older than the set) is caught
where impressions are stored (``search.events.impressions``), which keeps both.

Metric labels never take caller input as is: a method outside the standard ones is counted as
``other`` and a path no route matches as ``unmatched``, so made-up requests cannot grow
``/metrics``.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import threading
import time
import uuid
from collections import OrderedDict
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from search.metrics import HTTP_LATENCY, HTTP_REQUESTS

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "shelf_request_id", default=None
)
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
access_log = logging.getLogger("shelf.access")


#: The HTTP methods counted by name in metrics; any other is counted as ``other``.
STANDARD_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)
RECENT_REQUEST_IDS = 65_536  # caller ids remembered per process (about 10 MB at 64 characters)


def new_request_id(supplied: str | None = None) -> str:
    """``supplied`` when it is a valid request id, else a fresh random one."""
    if supplied and _VALID_REQUEST_ID.match(supplied):
        return supplied
    return uuid.uuid4().hex


def method_label(method: str) -> str:
    """The ``method`` metric label: a standard method's name, else ``other``."""
    return method if method in STANDARD_METHODS else "other"


class RecentRequestIds:
    """The caller-supplied request ids seen last (at most ``capacity``, oldest forgotten)."""

    def __init__(self, capacity: int = RECENT_REQUEST_IDS) -> None:
        self.capacity = capacity
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def first_use(self, request_id: str) -> bool:
        """Remember ``request_id``; True when it was not among the recent ones."""
        with self._lock:
            if request_id in self._seen:
                self._seen.move_to_end(request_id)
                return False
            self._seen[request_id] = None
            if len(self._seen) > self.capacity:
                self._seen.popitem(last=False)
            return True


def assign_request_id(supplied: str | None, recent: RecentRequestIds) -> tuple[str, str | None]:
    """``(request id, reused caller id)``: the caller's id on its first use, else a fresh one;
    the second item is the caller's id when it was refused as reused, else None."""
    request_id = new_request_id(supplied)
    if request_id != supplied:
        return request_id, None  # none supplied, or not a sane token: a fresh id
    if recent.first_use(request_id):
        return request_id, None
    return uuid.uuid4().hex, supplied


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, and the extras."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line; fields passed with ``extra=`` become keys."""
        entry: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str = "INFO") -> None:
    """Send every log record to stderr as JSON lines (the server's log format)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


class RequestContextMiddleware:
    """Assigns the request id, returns it as a header, and logs and counts each request."""

    def __init__(self, app: ASGIApp, recent_ids: RecentRequestIds | None = None) -> None:
        self.app = app
        self.recent_ids = recent_ids or RecentRequestIds()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Plain ASGI (no per-request task, unlike BaseHTTPMiddleware): cheap on the hot path."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        supplied = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                supplied = value.decode("latin-1")
                break
        request_id, reused = assign_request_id(supplied, self.recent_ids)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["client_request_id"] = reused
        id_headers = [(b"x-request-id", request_id.encode("latin-1"))]
        if reused is not None:
            id_headers.append((b"x-request-id-supplied", reused.encode("latin-1")))
        state["arrived"] = time.monotonic()  # for shedding requests that queued too long
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), *id_headers]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", "unmatched")
            HTTP_REQUESTS.labels(method_label(scope["method"]), route, str(status)).inc()
            HTTP_LATENCY.labels(route).observe(elapsed)
            extra: dict[str, Any] = {
                "method": scope["method"][:16],
                "path": scope["path"][:256],
                "status": status,
                "duration_ms": round(elapsed * 1000, 3),
            }
            if reused is not None:
                extra["client_request_id"] = reused
            access_log.info("request", extra=extra)
            request_id_var.reset(token)
