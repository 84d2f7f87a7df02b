"""`shelf serve` hands uvicorn the limits that matter under load, from flags or settings."""

from __future__ import annotations

from typing import Any

import pytest

from search.cli.main import main


@pytest.mark.parametrize(
    ("env", "argv", "expected"),
    [
        (
            {},
            [],
            {"limit_concurrency": None, "timeout_keep_alive": 5, "timeout_graceful_shutdown": 5},
        ),
        (
            {
                "SHELF_SERVE_LIMIT_CONCURRENCY": "200",
                "SHELF_SERVE_TIMEOUT_KEEP_ALIVE_S": "30",
                "SHELF_SERVE_TIMEOUT_GRACEFUL_S": "8",
            },
            [],
            {"limit_concurrency": 200, "timeout_keep_alive": 30, "timeout_graceful_shutdown": 8},
        ),
        (
            {"SHELF_SERVE_LIMIT_CONCURRENCY": "200", "SHELF_SERVE_TIMEOUT_GRACEFUL_S": "8"},
            ["--limit-concurrency", "64", "--timeout-keep-alive", "2", "--timeout-graceful", "3"],
            {"limit_concurrency": 64, "timeout_keep_alive": 2, "timeout_graceful_shutdown": 3},
        ),
    ],
    ids=["defaults", "settings", "flags-over-settings"],
)
def test_serve_passes_concurrency_keep_alive_and_graceful_stop_to_uvicorn(
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    argv: list[str],
    expected: dict[str, Any],
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    seen: dict[str, Any] = {}

    def run(app: object, **options: Any) -> None:
        seen.update(options)

    monkeypatch.setattr("uvicorn.run", run)
    monkeypatch.setattr("search.api.app.create_app", lambda settings: object())
    monkeypatch.setattr("search.api.middleware.logging.configure_logging", lambda level: None)

    assert main(["serve", "--workers", "1", *argv]) == 0
    assert {key: seen[key] for key in expected} == expected
