"""The client behind a trusted proxy: ``X-Forwarded-For`` believed from the proxies named in
``SHELF_TRUSTED_PROXIES`` only, never from anyone else.

uvicorn's ``ProxyHeadersMiddleware`` does the work (the rightmost address not itself a trusted
proxy becomes the scope's client). It is installed by the app, so tests, ``shelf serve`` and any
other ASGI server see the same client; ``shelf serve`` turns uvicorn's own copy off, whose
default trusts ``127.0.0.1`` and would let any local client name its address.
"""

from __future__ import annotations

from fastapi import FastAPI
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from search.settings import Settings


def install_proxy_headers(app: FastAPI, settings: Settings) -> None:
    """Read the client from ``X-Forwarded-For`` when the peer is one of
    ``settings.trusted_proxies``; with none configured, change nothing (the peer is the
    client)."""
    if settings.trusted_proxies:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxies))
