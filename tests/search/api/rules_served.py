"""Run by ``test_server_smoke`` against its server: a real `shelf serve` applies a pin added
with `shelf rules add` (another process) within ``SHELF_RULES_REFRESH_S``, and stops applying
the rule at its end time, between two refreshes."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time

import httpx

RULES_REFRESH_S = 1.0
PHONE = "en-us-0001"


def shelf(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "search.cli.main", *args], env=env, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip


def search(base: str) -> dict[str, object]:
    answer = httpx.get(f"{base}/search", params={"q": "wireless earbuds", "rerank": "false"})
    assert answer.status_code == 200, answer.text
    found: dict[str, object] = answer.json()
    return found


def first(found: dict[str, object]) -> tuple[str, bool]:
    item = found["items"][0]  # type: ignore[index]
    return item["product_id"], item["pinned"]


def check_cli_pin_is_served_and_expires(base: str, env: dict[str, str]) -> None:
    """Against a running server (``SHELF_RULES_REFRESH_S`` = ``RULES_REFRESH_S``) and its
    environment: `shelf rules add` pins a product; the server shows it within the refresh
    interval, and stops at the rule's end time."""
    assert first(search(base)) != (PHONE, True)
    ends = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=RULES_REFRESH_S * 5)
    added = shelf(env, "rules", "add", "earbuds", "--contains", "earbuds", "--pin",
                  f"{PHONE}@1", "--end", ends.isoformat(), "--json")  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["actions"]["pins"] == [{"product_id": PHONE, "position": 1}]
    stored = time.monotonic()
    while first(search(base)) != (PHONE, True):
        assert time.monotonic() - stored < RULES_REFRESH_S + 1.5, "the pin was not served in time"
        time.sleep(0.05)
    seen = time.monotonic() - stored
    assert search(base)["rules"] == ["earbuds"]
    # Expiry is judged at search time against the snapshot: no refresh or store change needed.
    time.sleep(max(0.0, (ends - dt.datetime.now(dt.UTC)).total_seconds()) + 0.05)
    after = search(base)
    assert after["rules"] == [] and first(after) != (PHONE, True)
    audit = httpx.get(f"{base}/rules/audit", headers={"X-API-Key": env["SHELF_API_KEY"]}).json()
    assert [(e["action"], e["actor"][:4]) for e in audit["entries"]] == [("create", "cli:")]
    print(f"pin served {seen:.2f} s after the CLI stored it (refresh {RULES_REFRESH_S} s)")  # noqa: T201
