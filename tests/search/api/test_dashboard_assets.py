"""``/dashboard`` over HTTP: the page, its assets, the missing-bundle error, local URLs only.

(The page itself, in a browser, is tested in ``test_dashboard.py``.)
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

import search.dashboard
from search.dashboard import STATIC_DIR


def test_the_dashboard_page_is_public_html_kept_on_its_own_host(client: TestClient) -> None:
    response = client.get("/dashboard")  # no API key: the page holds no data
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<title>Shelf experiments</title>" in response.text
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-cache"


@pytest.mark.parametrize(
    ("path", "content_type", "cache_control"),
    [
        ("dashboard.js", "text/javascript", "no-cache"),
        ("dashboard.css", "text/css", "no-cache"),
        ("vendor/chart.umd.min.js", "text/javascript", "public, max-age=86400"),
    ],
)
def test_dashboard_assets_are_served_with_their_content_type_and_cache_policy(
    client: TestClient, path: str, content_type: str, cache_control: str
) -> None:
    response = client.get(f"/dashboard/static/{path}")
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == content_type
    assert response.headers["cache-control"] == cache_control
    assert response.headers["x-content-type-options"] == "nosniff"


def test_an_unchanged_asset_is_answered_304_on_revalidation(client: TestClient) -> None:
    first = client.get("/dashboard/static/dashboard.js")
    again = client.get(
        "/dashboard/static/dashboard.js", headers={"If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304


@pytest.mark.parametrize(
    "path", ["nothing-here.js", "../__init__.py", "%2e%2e/__init__.py", "vendor", ""]
)
def test_only_files_of_the_static_folder_are_served(client: TestClient, path: str) -> None:
    assert client.get(f"/dashboard/static/{path}").status_code == 404


def test_the_assets_are_not_in_the_openapi_schema(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "/dashboard" in paths
    assert not any(path.startswith("/dashboard/static") for path in paths)


def test_a_dashboard_built_without_its_vendored_files_says_to_run_make_vendor(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search.dashboard, "VENDORED", ("vendor/not-built.js",))
    response = client.get("/dashboard")
    assert response.status_code == 503
    message = response.json()["error"]["message"]
    assert "make vendor" in message and "vendor/not-built.js" in message


class _References(HTMLParser):
    """Every src and href of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]


def test_the_page_references_only_local_urls() -> None:
    parser = _References()
    parser.feed((STATIC_DIR / "index.html").read_text(encoding="utf-8"))
    assert parser.urls, "the page should load its script and style sheet"
    for url in parser.urls:
        assert url.startswith("/dashboard") or url == "data:,", url
    # No absolute or protocol-relative URL in the script or the style sheet (comments say
    # "// text", never "//host.tld").
    remote = re.compile(r"(?:https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
    for name in ("dashboard.js", "dashboard.css"):
        text = (STATIC_DIR / name).read_text(encoding="utf-8")
        assert not remote.search(text), name
    css = (STATIC_DIR / "dashboard.css").read_text(encoding="utf-8")
    assert "@import" not in css and "url(" not in css
    js = (STATIC_DIR / "dashboard.js").read_text(encoding="utf-8")
    fetched = re.findall(r"api\(\s*[`'\"]([^`'\"]*)", js)
    assert fetched and all(path.startswith("/experiments") for path in fetched), fetched
