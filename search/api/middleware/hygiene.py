"""Control characters are refused at the HTTP edge, in every field of every endpoint (422).

Bodies are pydantic models whose every string is an ``Identifier`` or ``FreeText``
(``search.query.input_text``; a test walks the OpenAPI schema to keep it so). What the models do not
see is checked here, once, so no route has to remember it:

- the path: every path parameter is an identifier (no control character at all);
- every query parameter, percent-decoded: not UTF-8 is a 422; no control character, unless the
  operation's OpenAPI schema marks the parameter free text (``x-shelf-text: free``, as ``q`` is),
  which may hold tab, newline and carriage return.

The answer is Shelf's JSON error naming the field, e.g. ``{"error": {"type": "ValidationError",
"message": "user_id: contains the control character U+0000: ..."}}``. Headers are not checked
here: the only one Shelf keeps, ``X-Request-ID``, is replaced when it is not a plain token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from search.api.errors import send_error
from search.query.input_text import (
    SCHEMA_KEY,
    TextKind,
    describe_control_character,
    first_control_character,
)


class ControlCharacterError(HTTPException):
    """A field holds a character its kind refuses (422)."""

    def __init__(self, field: str, ch: str, kind: TextKind) -> None:
        super().__init__(422, f"{field}: {describe_control_character(ch, kind)}")


def _query_pairs(raw: bytes) -> list[tuple[str, str]]:
    """Percent-decoded (name, value) pairs; ``HTTPException`` 422 when one is not UTF-8."""
    pairs = []
    for pair in raw.split(b"&"):
        if not pair:
            continue
        name, _, value = pair.partition(b"=")
        decoded = []
        for part in (name, value):
            try:
                decoded.append(unquote_to_bytes(part.replace(b"+", b" ")).decode("utf-8"))
            except UnicodeDecodeError:
                field = name.decode("latin-1", errors="replace")[:40]
                raise HTTPException(
                    422, f"query parameter {field!r} is not valid UTF-8: percent-encode UTF-8 text"
                ) from None
        pairs.append((decoded[0], decoded[1]))
    return pairs


class InputHygieneMiddleware:
    """Refuses control characters in the path and the query string (see the module)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._operations: list[_Operation] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 422 when the path or the query holds a control character."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            self._check_path(scope)
            self._check_query(scope)
        except HTTPException as exc:
            await send_error(
                scope, receive, send, exc.status_code, "ValidationError", str(exc.detail)
            )
            return
        await self.app(scope, receive, send)

    def _check_path(self, scope: Scope) -> None:
        path: str = scope["path"]
        bad = first_control_character(path, "identifier")
        if bad is None:
            return
        field = "path"
        for operation in self._operations_of(scope):
            match = operation.pattern.match(path)
            if match is None:
                continue
            for name, value in match.groupdict().items():
                if first_control_character(value) is not None:
                    field = name
                    break
            break
        raise ControlCharacterError(field, bad, "identifier")

    def _check_query(self, scope: Scope) -> None:
        raw: bytes = scope.get("query_string", b"")
        if not raw:
            return
        for name, value in _query_pairs(raw):
            bad = first_control_character(name, "identifier")
            if bad is not None:
                raise ControlCharacterError(f"query parameter name {name!r}", bad, "identifier")
            if first_control_character(value, "identifier") is None:
                continue  # the usual case: no control character at all
            kind: TextKind = "free" if name in self._free_text_params(scope) else "identifier"
            bad = first_control_character(value, kind)
            if bad is not None:
                raise ControlCharacterError(name, bad, kind)

    def _free_text_params(self, scope: Scope) -> frozenset[str]:
        """The query parameters the operation the request names marks free text."""
        method = scope["method"].lower()
        for operation in self._operations_of(scope):
            if operation.method == method and operation.pattern.match(scope["path"]):
                return operation.free_text_params
        return frozenset()

    def _operations_of(self, scope: Scope) -> list[_Operation]:
        if self._operations is None:
            openapi = getattr(scope.get("app"), "openapi", None)
            self._operations = _operations(openapi()) if openapi is not None else []
        return self._operations


@dataclass(frozen=True)
class _Operation:
    """One operation of the OpenAPI schema: its path as a pattern, the free-text parameters."""

    method: str
    pattern: re.Pattern[str]
    free_text_params: frozenset[str]


def _operations(schema: dict[str, Any]) -> list[_Operation]:
    """Every operation of ``schema``, its path template as a pattern naming the parameters."""
    found = []
    for path, operations in schema.get("paths", {}).items():
        pattern = re.compile(
            "^" + re.sub(r"\\{(\w+)(?::path)?\\}", r"(?P<\1>[^/]+)", re.escape(path)) + "$"
        )
        for method, operation in operations.items():
            names = {
                p["name"]
                for p in operation.get("parameters", [])
                if p.get("in") == "query" and _marked_free(p.get("schema", {}))
            }
            found.append(_Operation(method, pattern, frozenset(names)))
    return found


def _marked_free(schema: dict[str, Any]) -> bool:
    if schema.get(SCHEMA_KEY) == "free":
        return True
    return any(_marked_free(s) for s in schema.get("anyOf", []))
