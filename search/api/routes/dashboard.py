"""``/dashboard``: the experiments page, the merchandising rules page (``/dashboard/rules``)
and their static assets (public: they hold no data).

The page reads experiments and reports through the API with the key the user types, so it
needs no access of its own. Its own files are revalidated on every load (``no-cache`` with an
ETag) because they change with each release under the same URL; the vendored library is cached
for a day. A Content-Security-Policy of ``'self'`` keeps the page off any CDN or other host.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles

from search.api.models import ERROR_RESPONSES
from search.dashboard import STATIC_DIR, missing_vendored
from search.errors import NotConfigured

router = APIRouter(tags=["dashboard"])

_static = StaticFiles(directory=STATIC_DIR, check_dir=False)
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _page(name: str, *, charts: bool) -> FileResponse:
    """One of the dashboard's HTML pages, with its security headers; a page that draws charts
    needs the vendored Chart.js (``NotConfigured``, 503, without it)."""
    missing = missing_vendored() if charts else []
    if missing:
        raise NotConfigured(
            f"the dashboard's vendored files are missing ({', '.join(missing)} under "
            f"{STATIC_DIR}): run `make vendor` (needs Node.js and npm) and restart"
        )
    headers = {**_SECURITY_HEADERS, "Cache-Control": "no-cache"}
    return FileResponse(STATIC_DIR / name, media_type="text/html", headers=headers)


@router.get(
    "/dashboard",
    response_class=FileResponse,
    responses={
        200: {"content": {"text/html": {}}, "description": "The dashboard page"},
        503: ERROR_RESPONSES[503] | {"description": "Built without its vendored files"},
    },
)
def dashboard() -> FileResponse:
    """The experiments dashboard (HTML). It asks for the API key and keeps it per tab."""
    return _page("index.html", charts=True)


@router.get(
    "/dashboard/rules",
    response_class=FileResponse,
    responses={200: {"content": {"text/html": {}}, "description": "The rules page"}},
)
def rules_page() -> FileResponse:
    """The merchandising rules page (HTML): list, create, edit, delete rules and read the
    audit, with the API key the user types (no chart, so no vendored file needed)."""
    return _page("rules.html", charts=False)


@router.get(
    "/dashboard/analytics",
    response_class=FileResponse,
    responses={
        200: {"content": {"text/html": {}}, "description": "The analytics page"},
        503: ERROR_RESPONSES[503] | {"description": "Built without its vendored files"},
    },
)
def analytics_page() -> FileResponse:
    """The analytics dashboard (HTML); it asks for the API key like the experiments page."""
    return _page("analytics.html", charts=True)


@router.get("/dashboard/static/{path:path}", include_in_schema=False)
async def dashboard_asset(path: str, request: Request) -> Response:
    """A file of the page: its script, style sheet or a vendored library (404 if absent)."""
    response = await _static.get_response(path, request.scope)
    cache = "public, max-age=86400" if path.startswith("vendor/") else "no-cache"
    response.headers["Cache-Control"] = cache
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
