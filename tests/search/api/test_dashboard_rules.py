"""``/dashboard/rules`` in headless Chromium against the session's app on a real uvicorn
server: list, create, edit and delete a rule with the API key, a refused rule's reason, and the
audit trail. Debian's ``chromium`` is driven by Playwright (skipped without it outside CI)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, expect, sync_playwright

from search.api.security import key_identity
from tests.search.api.conftest import API_KEY, auth
from tests.search.api.test_dashboard import Watched, _chromium

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live(client: TestClient) -> Iterator[str]:
    """The session's app (components already built: lifespan off) on uvicorn, no rules."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(client.app, lifespan="off", log_config=None))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=30)
    sock.close()
    for rule in client.get("/rules", headers=auth()).json()["rules"]:
        client.delete(f"/rules/{rule['id']}", headers=auth())


@pytest.fixture
def watched() -> Iterator[Watched]:
    with sync_playwright() as playwright:
        browser: Browser = playwright.chromium.launch(executable_path=_chromium(), headless=True)
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        seen = Watched(page)
        page.on("console", lambda m: m.type == "error" and seen.errors.append(m.text))
        page.on("pageerror", lambda error: seen.errors.append(f"uncaught: {error}"))
        page.on("request", lambda request: seen.requests.append(request.url))
        page.on("dialog", lambda dialog: dialog.accept())
        yield seen
        browser.close()


def write(page: Page, rule: dict[str, object]) -> None:
    page.locator("#rule-json").fill(json.dumps(rule))
    page.locator("#save").click()


def test_the_rules_page_creates_edits_refuses_and_deletes_rules_with_an_audit(
    live: str, watched: Watched
) -> None:
    page = watched.page
    page.goto(f"{live}/dashboard/rules")
    page.locator("#api-key").fill(API_KEY)
    page.locator("#key-form button[type=submit]").click()
    expect(page.locator("#no-rules")).to_be_visible()
    page.locator("#actor").fill("ana <b>m</b>")
    rule = {
        "id": "dash-earbuds",
        "condition": {"match": "contains", "phrase": "earbuds", "language": None},
        "actions": {"pins": [{"product_id": "en-us-0001", "position": 1}]},
    }
    write(page, rule)
    row = page.locator("#rules-table tbody tr[data-id='dash-earbuds']")
    expect(row).to_contain_text("pin en-us-0001 at 1")
    expect(page.locator("#editor-title")).to_have_text("Edit rule dash-earbuds")

    rule["actions"] = {"pins": [{"product_id": "en-us-0001", "position": 1}],
                       "hide": ["en-us-0002"]}  # fmt: skip
    write(page, rule)
    expect(row).to_contain_text("hide en-us-0002")
    write(page, {**rule, "actions": {"hide": ["no-such-product"]}})
    expect(page.locator("#editor-error")).to_contain_text("unknown product ids 'no-such-product'")

    row.get_by_role("button", name="Delete").click()
    expect(page.locator("#no-rules")).to_be_visible()
    audit = page.locator("#audit-table tbody tr").filter(has_text="dash-earbuds")
    expect(audit).to_have_count(3)
    assert [audit.nth(i).locator("td").nth(2).inner_text() for i in range(3)] == [
        "delete", "update", "create"
    ]  # fmt: skip
    # Who is the key; the name typed is a note beside it, as text, never HTML.
    who = f"{key_identity(API_KEY)} (ana <b>m</b>)"
    assert audit.nth(2).locator("td").nth(1).inner_text() == who
    assert watched.errors == [] or all("422" in e for e in watched.errors), watched.errors
    assert watched.foreign_requests(live) == []
