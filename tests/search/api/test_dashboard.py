"""``/dashboard`` in headless Chromium against a real uvicorn server with real experiment data.

Debian's ``chromium`` (``make browser``) is driven by Playwright; no browser is downloaded.
Outside CI a machine without chromium skips these tests; in CI (``CI=true``) it fails them.
The main test saves a screenshot to ``test-artifacts/dashboard.png`` (or
``$SHELF_DASHBOARD_SCREENSHOT``).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright

from search.api.app import create_app
from search.cli.demo import demo_queries
from search.settings import Settings
from tests.search.api.conftest import API_KEY

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[3]
SCREENSHOT = Path(
    os.environ.get("SHELF_DASHBOARD_SCREENSHOT", ROOT / "test-artifacts" / "dashboard.png")
)
EXPERIMENT = "dash-rerank"
EMPTY_EXPERIMENT = "dash-empty"
HEADERS = {"X-API-Key": API_KEY}


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def _chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        reason = "Debian's chromium is not installed: `make browser` installs it"
        if _in_ci():
            pytest.fail(f"{reason} (CI=true: the dashboard must be tested in a browser)")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="module")
def live_server(api_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on uvicorn on a loopback port (its own event store), served from a thread. The
    test plays a proxy: from loopback, X-Forwarded-For names the shopper's address."""
    events = tmp_path_factory.mktemp("dashboard-events") / "events.db"
    settings = api_settings.model_copy(
        update={"events_url": f"sqlite:///{events}", "trusted_proxies": ["127.0.0.1/32"]}
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_config=None))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the dashboard's uvicorn server did not start within 60 s")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)
    sock.close()


@pytest.fixture(scope="module")
def seeded(live_server: str) -> str:
    """A running two-variant experiment with searches in several locales and some clicks and
    purchases, plus a draft with no data; returns the server's address."""
    with httpx.Client(base_url=live_server, timeout=30) as http:
        created = http.post(
            "/experiments",
            headers=HEADERS,
            json={
                "id": EXPERIMENT,
                "description": "BM25 vs reranked <b>not bold</b>",
                "status": "running",
                "variants": [
                    {"name": "control", "overrides": {"rerank": False}},
                    {"name": "reranked"},
                ],
            },
        )
        assert created.status_code == 201, created.text
        draft = {"id": EMPTY_EXPERIMENT, "variants": [{"name": "a"}, {"name": "b"}]}
        assert http.post("/experiments", headers=HEADERS, json=draft).status_code == 201
        queries = demo_queries()
        for user in range(48):
            query, locale = queries[user % len(queries)]
            params = {"q": query, "locale": locale, "user_id": f"user-{user}"}
            search = http.get("/search", params=params)
            assert search.status_code == 200, search.text
            answer = search.json()
            if user % 3 == 0 or not answer["items"]:
                continue  # some searches get no click
            item = answer["items"][user % len(answer["items"])]
            kinds = ["click"] + (["purchase"] if user % 4 == 1 else [])
            for kind in kinds:
                event = {
                    "event_id": uuid.uuid4().hex,
                    "type": kind,
                    "request_id": answer["request_id"],
                    "product_id": item["product_id"],
                    "position": item["position"],
                    **({"value": 19.5 + user} if kind == "purchase" else {}),
                }
                stored = http.post("/events", headers=HEADERS, json=event)
                assert stored.status_code == 200, stored.text
    return live_server


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = _chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True)
        yield launched
        launched.close()


@dataclass
class Watched:
    """A page and what it did: console errors, uncaught exceptions, every URL it requested."""

    page: Page
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def foreign_requests(self, base: str) -> list[str]:
        own = urlsplit(base).netloc
        return [
            url
            for url in self.requests
            if urlsplit(url).scheme not in ("data", "blob") and urlsplit(url).netloc != own
        ]


@pytest.fixture
def watched(browser: Browser) -> Iterator[Watched]:
    """A page in a fresh context (its own sessionStorage) that records what went wrong."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    seen = Watched(page)
    page.on("console", lambda message: message.type == "error" and seen.errors.append(message.text))
    page.on("pageerror", lambda error: seen.errors.append(f"uncaught: {error}"))
    page.on("requestfailed", lambda request: seen.errors.append(f"failed: {request.url}"))
    page.on("request", lambda request: seen.requests.append(request.url))
    yield seen
    context.close()


def _enter_key(page: Page, key: str) -> None:
    page.locator("#api-key").fill(key)
    page.locator("#key-form button[type=submit]").click()


def _wait_for_report(page: Page) -> None:
    """Wait until the report is drawn; fail with the page's own message if it shows an error."""
    page.locator("#report:not([hidden]), #notice:not([hidden])").first.wait_for()
    notice = page.locator("#notice")
    if notice.is_visible():
        pytest.fail(f"the dashboard shows an error instead of the report: {notice.inner_text()}")


CHART_STATE = """(canvas) => {
  const chart = window.Chart && window.Chart.getChart(canvas);
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) painted++;
  return {
    labels: chart ? chart.data.datasets.map((d) => d.label) : [],
    points: chart ? chart.data.datasets.map((d) => d.data.length) : [],
    painted,
    dataUrlLength: canvas.toDataURL("image/png").length,
  };
}"""


def test_the_dashboard_shows_the_variants_srm_and_a_daily_ctr_chart_without_errors(
    seeded: str, watched: Watched
) -> None:
    page = watched.page
    page.goto(f"{seeded}/dashboard")
    _enter_key(page, API_KEY)
    page.get_by_role("link", name=EXPERIMENT).click()
    _wait_for_report(page)
    variants = page.locator("#variants-table tbody tr")
    expect(variants).to_have_count(2)
    expect(variants.nth(0).locator("th")).to_have_text("control")
    expect(variants.nth(1).locator("th")).to_have_text("reranked")
    assert page.url.endswith(f"?experiment={EXPERIMENT}")

    page.locator("#ctr-chart").wait_for(state="visible")
    chart = page.locator("#ctr-chart").evaluate(CHART_STATE)
    assert {"control", "reranked"} <= set(chart["labels"]), chart
    assert all(points >= 1 for points in chart["points"]), chart
    assert chart["painted"] > 1000, "the chart canvas is blank"
    expect(page.locator("#srm")).to_be_visible()
    expect(page.locator("#srm-message")).not_to_be_empty()
    expect(page.locator("#locales-table tbody tr").first).to_be_visible()
    # Data is text, never markup.
    expect(page.locator("#report-meta")).to_contain_text("<b>not bold</b>")
    assert page.locator("#report-meta b").count() == 0

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert watched.errors == []
    assert watched.foreign_requests(seeded) == []


def test_a_deep_link_opens_its_experiment_once_the_key_is_entered(
    seeded: str, watched: Watched
) -> None:
    page = watched.page
    page.goto(f"{seeded}/dashboard?experiment={EXPERIMENT}")
    expect(page.locator("#key-form")).to_be_visible()
    _enter_key(page, API_KEY)
    _wait_for_report(page)
    expect(page.locator("#report-title")).to_have_text(f"Experiment {EXPERIMENT}")
    expect(page.locator("#experiments-table tr.selected")).to_contain_text(EXPERIMENT)
    assert watched.errors == []


def test_an_experiment_without_data_shows_no_chart_and_no_errors(
    seeded: str, watched: Watched
) -> None:
    page = watched.page
    page.goto(f"{seeded}/dashboard?experiment={EMPTY_EXPERIMENT}")
    _enter_key(page, API_KEY)
    _wait_for_report(page)
    expect(page.locator("#report-title")).to_have_text(f"Experiment {EMPTY_EXPERIMENT}")
    expect(page.locator("#no-days")).to_be_visible()
    expect(page.locator("#ctr-chart")).to_be_hidden()
    assert watched.errors == []


def test_a_wrong_key_says_so_and_asks_again(seeded: str, watched: Watched) -> None:
    page = watched.page
    page.goto(f"{seeded}/dashboard")
    _enter_key(page, "not-the-key")
    expect(page.locator("#notice")).to_contain_text("API key was refused (401)")
    expect(page.locator("#key-form")).to_be_visible()
    expect(page.locator("#experiments")).to_be_hidden()
    assert page.evaluate("sessionStorage.length") == 0
    # The browser itself logs the refused request; nothing else may go wrong.
    assert all("401" in error for error in watched.errors), watched.errors


def test_missing_chromium_fails_in_ci_and_skips_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="make browser"):
        _chromium()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="make browser"):
        _chromium()


def test_the_create_view_plans_users_and_days_and_names_bad_input(
    seeded: str, watched: Watched
) -> None:
    page = watched.page
    page.goto(f"{seeded}/dashboard")
    expect(page.locator("#plan")).to_be_hidden()
    _enter_key(page, API_KEY)
    expect(page.locator("#plan")).to_be_visible()
    # A given baseline: 10% CTR, +10%, 1,000 users a day, 50/50.
    page.locator("#plan-mde").fill("10")
    page.locator("#plan-baseline").fill("0.1")
    page.locator("#plan-units").fill("1000")
    page.locator("#plan-form button[type=submit]").click()
    result = page.locator("#plan-result")
    expect(result).to_contain_text("Users needed: 29,49")
    expect(result).to_contain_text("days: 30;")
    expect(result).to_contain_text("(given)")
    # The seeded experiment's searches are the log's baseline when none is given.
    page.locator("#plan-baseline").fill("")
    page.locator("#plan-mde").fill("20")
    page.locator("#plan-form button[type=submit]").click()
    expect(result).to_contain_text("(log)")
    page.locator("#plan-traffic").fill("1.5")
    page.locator("#plan-form button[type=submit]").click()
    expect(result).to_contain_text("Cannot plan (422)")
    expect(result).to_contain_text("traffic")
    # The browser logs the refused request itself; nothing else may go wrong.
    assert all("422" in error for error in watched.errors), watched.errors
