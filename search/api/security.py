"""API keys for the write and admin endpoints; search and /rerank stay public.

The key comes from ``SHELF_API_KEY`` and is compared in constant time (``hmac.compare_digest``).
Clients send it as ``X-API-Key: KEY`` or ``Authorization: Bearer KEY``. When the server has no
key configured, protected endpoints answer 503 saying to set one: they are never left open.

A request that carries a key acts as the key's identity, ``key:`` and the first 8 hex digits of
the key's SHA-256 (never the key): audits record it as who made a change, since no header a
client sets can say who it is. With scoped keys (one per storefront, a later issue) each key
gets its own identity the same way.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, Header

from search.api.components import settings_of
from search.errors import NotConfigured, Unauthorized
from search.settings import Settings


def presented_key(x_api_key: str | None, authorization: str | None) -> str | None:
    """The key a request carries, from ``X-API-Key`` or a Bearer ``Authorization``."""
    if x_api_key:
        return x_api_key
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return None


def key_identity(key: str) -> str:
    """Who a key is in audits and logs: ``key:`` and the first 8 hex digits of the SHA-256 of
    ``key`` (UTF-8), e.g. ``key:1f2e3d4c``; the key itself cannot be read back from it."""
    return "key:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def require_api_key(
    settings: Annotated[Settings, Depends(settings_of)],
    x_api_key: Annotated[str | None, Header(include_in_schema=False)] = None,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> str:
    """Dependency of protected routes: 401 unless the request carries ``SHELF_API_KEY``; the
    key's identity (``key_identity``) otherwise."""
    if settings.api_key is None or not settings.api_key.get_secret_value():
        raise NotConfigured(
            "this endpoint needs an API key and the server has none: set SHELF_API_KEY"
        )
    key = presented_key(x_api_key, authorization)
    expected = settings.api_key.get_secret_value().encode("utf-8")
    if key is None or not hmac.compare_digest(key.encode("utf-8", "surrogatepass"), expected):
        raise Unauthorized(
            "missing or wrong API key: send it as 'X-API-Key: KEY' or 'Authorization: Bearer KEY'"
        )
    return key_identity(key)
