"""Input limits: request body size (413) and query length in characters and bytes (422).

Each answer names the limit and the setting that raises it, so a caller knows what to change.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from search.pipeline.request import check_query_length
from search.settings import Settings


def body_too_large(max_bytes: int) -> HTTPException:
    """The 413 answer for a body over ``max_bytes``.

    An ``HTTPException`` rather than a ``ShelfError``: FastAPI turns any other error raised
    while it reads the body into a 400 ("error parsing the body")."""
    return HTTPException(
        413,
        f"request body is larger than {max_bytes} bytes (SHELF_API_MAX_BODY_BYTES); "
        "send smaller batches",
    )


class BodySizeLimitMiddleware:
    """Refuses bodies over ``max_bytes``: by Content-Length up front, else while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Wrap ``receive`` so the first byte over the limit raises a 413."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        too_large = declared is not None and declared.isdigit() and int(declared) > self.max_bytes
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            if too_large:
                raise body_too_large(self.max_bytes)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise body_too_large(self.max_bytes)
            return message

        await self.app(scope, limited_receive, send)


def check_query_text(q: str, settings: Settings, field: str = "q") -> None:
    """Refuse queries over the character or byte limit (422), naming ``field``
    (``search.pipeline.request.check_query_length``). Control characters and a query string
    that is not UTF-8 are refused before any route runs (``search.api.middleware.hygiene``, the
    ``FreeText`` type)."""
    check_query_length(
        q, field, max_chars=settings.api_max_query_chars, max_bytes=settings.api_max_query_bytes
    )
