"""`shelf` commands that need the event store say it cannot be reached, in one line, when its
PostgreSQL is down (a real server, stopped): no traceback."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from search.cli.main import main
from tests.stores import PrivatePostgres


@pytest.fixture
def down(private_postgres: PrivatePostgres, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """SHELF_EVENTS_URL names the private PostgreSQL, stopped for the test."""
    monkeypatch.setenv("SHELF_EVENTS_URL", private_postgres.url)
    private_postgres.stop()
    try:
        yield
    finally:
        with contextlib.suppress(RuntimeError):
            private_postgres.start()


@pytest.mark.parametrize(
    "command", [["rules", "list"], ["synonyms", "list"], ["experiments", "list"]], ids=" ".join
)
def test_a_command_needing_the_store_says_it_cannot_be_reached(
    down: None, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(command) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"shelf {command[0]}: error: the event store (SHELF_EVENTS_URL)")
    assert "cannot be reached" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
