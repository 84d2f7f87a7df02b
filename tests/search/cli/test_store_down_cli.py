"""`shelf` commands that need the event store say it cannot be reached, in one line, when its
PostgreSQL is down (a real server, stopped): no traceback."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from search.cli.main import main
from search.events.refreshed import LastGood, write_atomically
from search.merchandising.apply import RuleSet
from search.merchandising.book import rules_copy
from search.pipeline.stored_rules import synonyms_copy
from search.settings import get_settings
from search.synonyms.model import SynonymSet, parse_synonym_line
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


def test_shelf_search_with_the_store_down_applies_the_last_good_copy(
    down: None,
    api_data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SHELF_DATA_DIR", str(api_data_dir))
    monkeypatch.setenv("SHELF_LAST_GOOD_DIR", str(tmp_path / "last-good"))
    get_settings.cache_clear()
    settings = get_settings()
    last_good = LastGood.of(
        settings.last_good_path, settings.events_database_url, settings.events_table_prefix
    )
    synonyms = synonyms_copy(last_good)  # as a server keeps them
    rule = parse_synonym_line("zorblax => coffee")
    write_atomically(synonyms.path, synonyms.dump(SynonymSet.of([rule])))
    rules = rules_copy(last_good)
    write_atomically(rules.path, rules.dump(RuleSet([], 3)))
    assert main(["search", "zorblax", "--lang", "en", "--no-rerank", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["synonyms"] == [{"term": "zorblax", "also": ["coffee"]}]
    assert "searching with the last good copy" in captured.err
