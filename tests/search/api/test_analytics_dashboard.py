"""``/dashboard/analytics`` in headless Chromium against a real uvicorn server: searches (some
matching nothing) and clicks go in through the API, the page draws the daily chart and the
query tables, and a query sent by fewer than the threshold's users shows nowhere.

Reuses the experiments page's server, browser and page fixtures (``test_dashboard``). Saves a
screenshot of the drawn page to ``test-artifacts/analytics.png``.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from playwright.sync_api import expect

from tests.search.api.conftest import API_KEY
from tests.search.api.test_dashboard import (  # noqa: F401 (fixtures)
    CHART_STATE,
    HEADERS,
    ROOT,
    Watched,
    _enter_key,
    browser,
    live_server,
    watched,
)

pytestmark = pytest.mark.browser
PRIVATE = "call me on 0123 456789"  # four users: never shown


@pytest.fixture(scope="module")
def analytics_seeded(live_server: str) -> str:  # noqa: F811
    """Searches by six users from six networks (one of them matching nothing, one clicked) and
    a query four users sent; returns the server's address."""
    with httpx.Client(base_url=live_server, timeout=30) as http:
        for user in range(6):
            params = {"q": "coffee", "lang": "en", "user_id": f"a-{user}"}
            # Each user from a network of their own (the live server trusts loopback as a proxy).
            http.headers["X-Forwarded-For"] = f"198.51.{user}.7"
            answer = http.get("/search", params=params).json()
            if user < 2:
                click = {"event_id": uuid.uuid4().hex, "type": "click",
                         "request_id": answer["request_id"],
                         "product_id": answer["items"][0]["product_id"], "position": 1}  # fmt: skip
                assert http.post("/events", headers=HEADERS, json=click).status_code == 200
            nothing = {**params, "q": "teapot", "brand": "no-such-brand"}
            assert http.get("/search", params=nothing).json()["total"] == 0
            if user < 4:
                http.get("/search", params={**params, "q": PRIVATE})
    return live_server


def test_the_analytics_page_draws_the_daily_chart_and_the_query_tables(
    analytics_seeded: str,
    watched: Watched,  # noqa: F811
) -> None:
    page = watched.page
    page.goto(f"{analytics_seeded}/dashboard/analytics")
    _enter_key(page, API_KEY)
    page.locator("#analytics:not([hidden]), #notice:not([hidden])").first.wait_for()
    assert not page.locator("#notice").is_visible(), page.locator("#notice").inner_text()
    expect(page.locator("#top-table tbody th").first).to_have_text("coffee")
    expect(page.locator("#zero-table tbody th")).to_have_text(["teapot"])
    expect(page.locator("#threshold")).to_contain_text("at least 5 distinct networks")
    assert PRIVATE not in page.locator("main").inner_text()
    page.locator("#daily-chart").wait_for(state="visible")
    chart = page.locator("#daily-chart").evaluate(CHART_STATE)
    assert chart["labels"] == ["Searches", "Zero-result searches", "CTR"], chart
    assert chart["painted"] > 1000, "the chart canvas is blank"
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    page.screenshot(path=str(ROOT / "test-artifacts" / "analytics.png"), full_page=True)

    page.locator("#locale").fill("de")  # no German searches: empty tables, no chart
    page.locator("#window-form button[type=submit]").click()
    expect(page.locator("#no-days")).to_be_visible()
    assert page.url.endswith("?locale=de")
    page.locator("#locale").fill("xx-nope-nope")
    page.locator("#window-form button[type=submit]").click()
    expect(page.locator("#notice")).to_contain_text("locale")
    expect(page.locator("#analytics")).to_be_hidden()
    assert all("422" in error for error in watched.errors), watched.errors
    assert watched.foreign_requests(analytics_seeded) == []


def test_the_experiments_page_links_to_the_analytics_page(
    analytics_seeded: str,
    watched: Watched,  # noqa: F811
) -> None:
    page = watched.page
    page.goto(f"{analytics_seeded}/dashboard")
    page.get_by_role("link", name="Search analytics").click()
    expect(page.locator("h1")).to_have_text("Shelf search analytics")
