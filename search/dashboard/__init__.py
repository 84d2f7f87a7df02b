"""The experiments dashboard: a static page (HTML, vanilla JS, CSS) served by the API.

The page holds no data: it asks for the API key and reads ``/experiments`` and their reports
like any other client. Chart.js is vendored into ``static/vendor/`` at build time by
``make vendor`` (``npm ci`` on this folder's ``package-lock.json``), never fetched from a CDN.
"""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
#: Files the page cannot work without that ``make vendor`` puts in place (not in git).
VENDORED = ("vendor/chart.umd.min.js",)


def missing_vendored(static_dir: Path = STATIC_DIR) -> list[str]:
    """The vendored files absent from ``static_dir`` (empty when the page is complete)."""
    return [name for name in VENDORED if not (static_dir / name).is_file()]
