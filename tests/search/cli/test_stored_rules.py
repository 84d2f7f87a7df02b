"""``shelf search`` applies the event store's synonym and merchandising rules, as the server does:
the real CLI entry (``search.cli.main.main``), a tantivy index and a SQLite store in this test's
data
dir. Also what the ``shelf synonyms``/``shelf rules`` errors and help tell a CLI user."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from search.cli.main import main
from search.settings import get_settings

EN, DE = "en-US", "de-DE"
PRODUCTS = [  # id, locale, title
    ("tv-1", EN, "Aurora 55 inch 4K television"),
    ("buds-1", EN, "Brightwave wireless earbuds"),
    ("buds-2", EN, "Pulse wireless earbuds for sport"),
    ("phones-1", EN, "Kestrel over-ear headphones"),
    ("buds-de", DE, "Klangfeld kabellose Ohrhörer, earbuds"),
]


@pytest.fixture
def ingested(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The products above indexed (BM25 only: no embedding model) in this test's data dir."""
    monkeypatch.setenv("SHELF_EMBED_MODEL", "none")
    monkeypatch.setenv("SHELF_RECALL_MODE", "bm25")
    get_settings.cache_clear()
    path = tmp_path / "catalog.jsonl"
    lines = [
        json.dumps({"id": pid, "locale": locale, "title": title, "brand": title.split()[0],
                    "category": "Electronics", "price": 10.0 + i, "currency": "USD",
                    "in_stock": True})
        for i, (pid, locale, title) in enumerate(PRODUCTS)
    ]  # fmt: skip
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["ingest", str(path), "--json"]) == 0


def shelf(capsys: pytest.CaptureFixture[str], *argv: str, code: int = 0) -> tuple[str, str]:
    """Run ``shelf argv`` in process; its stdout and stderr."""
    capsys.readouterr()
    assert main(list(argv)) == code
    captured = capsys.readouterr()
    return captured.out, captured.err


def search(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    out, _ = shelf(capsys, "search", *argv, "--no-rerank", "--json")
    found = json.loads(out)
    assert isinstance(found, dict)
    return found


def ids(found: dict[str, object]) -> list[str]:
    items = found["items"]
    assert isinstance(items, list)
    return [item["product_id"] for item in items]


def test_shelf_search_applies_a_stored_synonym(
    ingested: None, capsys: pytest.CaptureFixture[str]
) -> None:
    before = search(capsys, "telly", "--lang", "en")
    assert before["synonyms"] == [] and "tv-1" not in ids(before)
    shelf(capsys, "synonyms", "add", "tv, telly => television")
    after = search(capsys, "telly", "--lang", "en")
    assert after["synonyms"] == [{"term": "telly", "also": ["television"]}]
    assert ids(after)[0] == "tv-1"
    paged = search(capsys, "telly", "--lang", "en", "--facets", "brand")
    assert paged["synonyms"] == after["synonyms"] and ids(paged)[0] == "tv-1"


@pytest.mark.parametrize("paging", [[], ["--page", "1", "--facets", "brand"]],
                         ids=["first-k", "page"])  # fmt: skip
def test_shelf_search_applies_a_stored_pin_and_hide_of_its_language(
    ingested: None, capsys: pytest.CaptureFixture[str], paging: list[str]
) -> None:
    before = search(capsys, "wireless earbuds", "--lang", "en", *paging)
    top = ids(before)[0]
    assert before["rules"] == [] and top.startswith("buds-")
    shelf(capsys, "rules", "add", "bf", "--contains", "earbuds", "--language", "en",
          "--pin", "phones-1@1", "--hide", top)  # fmt: skip
    after = search(capsys, "wireless earbuds", "--lang", "en", *paging)
    assert after["rules"] == ["bf"]
    items = after["items"]
    assert isinstance(items, list)
    first = items[0]
    assert (first["product_id"], first["pinned"], first["rule"]) == ("phones-1", True, "bf")
    assert top not in ids(after)
    # The catalog holds English and German: "earbuds" alone is in no known language.
    unknown = search(capsys, "earbuds", *paging)
    assert unknown["language"] is None and unknown["rules"] == [] and top in ids(unknown)
    human, _ = shelf(capsys, "search", "wireless earbuds", "--lang", "en", "--no-rerank", *paging)
    assert "phones-1" in human and "[pinned by bf]" in human and "rules: bf" in human


def test_an_unreadable_store_is_said_on_stderr_and_the_search_goes_on_without_rules(
    ingested: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    shelf(capsys, "synonyms", "add", "tv, telly => television")
    not_a_database = tmp_path / "a-folder"
    not_a_database.mkdir()
    monkeypatch.setenv("SHELF_EVENTS_URL", f"sqlite:///{not_a_database}")
    get_settings.cache_clear()
    out, err = shelf(capsys, "search", "television", "--lang", "en", "--no-rerank", "--json")
    assert err.startswith("shelf search: warning: the event store (SHELF_EVENTS_URL) could not "
                          "be read (OperationalError: "), err  # fmt: skip
    assert "searching without its synonyms and merchandising rules" in err
    assert err.count("\n") == 1, err
    found = json.loads(out)
    assert ids(found) == ["tv-1"] and found["synonyms"] == [] and found["rules"] == []


@pytest.mark.parametrize(
    ("argv", "advice"),
    [
        (["synonyms", "delete", "9999"], "`shelf synonyms list` lists those that do"),
        (["rules", "delete", "nope"], "`shelf rules list` lists those that do"),
        (["rules", "add", "nope", "--contains", "x", "--hide", "tv-1", "--replace"],
         "`shelf rules list` lists those that do"),
        (["rules", "add", "taken", "--contains", "x", "--hide", "tv-1"],
         "`shelf rules add taken --replace ...` replaces it"),
    ],
)  # fmt: skip
def test_cli_errors_name_cli_commands_not_http_routes(
    ingested: None, capsys: pytest.CaptureFixture[str], argv: list[str], advice: str
) -> None:
    shelf(capsys, "rules", "add", "taken", "--contains", "y", "--hide", "buds-1")
    _, err = shelf(capsys, *argv, code=2)
    assert advice in err and "GET /" not in err and "PUT /" not in err, err


def test_synonyms_export_without_lang_prints_the_every_language_set_only_as_its_help_says(
    capsys: pytest.CaptureFixture[str],
) -> None:
    shelf(capsys, "synonyms", "add", "tv, telly => television")
    shelf(capsys, "synonyms", "add", "handy, mobiltelefon", "--lang", "de")
    out, _ = shelf(capsys, "synonyms", "export")
    assert out.splitlines() == ["tv, telly => television"]
    with pytest.raises(SystemExit):
        main(["synonyms", "export", "--help"])
    helped = " ".join(capsys.readouterr().out.split())
    assert "Print the rules of ONE set" in helped
    assert "without --lang only that set is printed, not the language sets" in helped
