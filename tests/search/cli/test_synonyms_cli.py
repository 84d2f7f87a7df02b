"""``shelf synonyms`` on the embedded event store (a SQLite file in the test's data dir), and
once on the real PostgreSQL."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from search.cli.main import main
from search.cli.synonyms import open_store
from search.settings import get_settings
from tests.stores import POSTGRES_URL


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> object:
    capsys.readouterr()
    assert main(["synonyms", *argv, "--json"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def test_add_list_export_and_delete(capsys: pytest.CaptureFixture[str]) -> None:
    added = _run(capsys, "add", "Sneakers, Trainers")
    assert isinstance(added, dict) and added["language"] is None and added["created"] is True
    again = _run(capsys, "add", "trainers, sneakers")
    assert isinstance(again, dict) and again["id"] == added["id"] and again["created"] is False
    _run(capsys, "add", "tv => television", "--lang", "en-GB")
    listed = _run(capsys, "list")
    assert isinstance(listed, list)
    assert [(r["language"], r["rule"]) for r in listed] == [
        (None, "sneakers, trainers"),
        ("en", "tv => television"),
    ]
    assert [r["rule"] for r in _run(capsys, "list", "--lang", "en")] == ["tv => television"]  # type: ignore[attr-defined]
    capsys.readouterr()
    assert main(["synonyms", "export", "--lang", "en"]) == 0
    assert capsys.readouterr().out == "tv => television\n"
    assert main(["synonyms", "list"]) == 0
    assert "*    sneakers, trainers" in capsys.readouterr().out
    deleted = _run(capsys, "delete", str(added["id"]))
    assert isinstance(deleted, list) and deleted[0]["rule"] == "sneakers, trainers"
    assert len(_run(capsys, "list")) == 1  # type: ignore[arg-type]


def test_an_export_imports_back_into_the_same_set(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = tmp_path / "de.txt"
    source.write_text("# Schuhe\nTurnschuhe, Sneaker\n\nFernseher => TV\n", encoding="utf-8")
    outcome = _run(capsys, "import", str(source), "--lang", "de")
    assert outcome == {
        "imported": True, "language": "de", "added": 2, "unchanged": 0, "removed": 0, "total": 2
    }  # fmt: skip
    capsys.readouterr()
    assert main(["synonyms", "export", "--lang", "de"]) == 0
    exported = tmp_path / "export.txt"
    exported.write_text(capsys.readouterr().out, encoding="utf-8")
    again = _run(capsys, "import", str(exported), "--lang", "de", "--replace")
    assert isinstance(again, dict) and (again["added"], again["unchanged"], again["removed"]) == (
        0,
        2,
        0,
    )


def test_a_bad_import_reports_every_line_exits_2_and_changes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _run(capsys, "add", "a, b", "--lang", "fr")
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"x, y\nbad,\nz => z\n\xff\xfe, w\nok, fine\nsolo\n")
    capsys.readouterr()
    assert main(["synonyms", "import", str(bad), "--lang", "fr", "--replace"]) == 2
    err = capsys.readouterr().err
    for number, why in (
        (2, "empty term"),
        (4, "not UTF-8: byte 0xff at column 1"),
        (3, "maps its terms to themselves"),
        (6, "at least two different terms"),
    ):
        assert f"{bad}:{number}: " in err and why in err, err
    assert "4 line(s) are not rules; nothing was imported" in err
    assert [r["rule"] for r in _run(capsys, "list", "--lang", "fr")] == ["a, b"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["add", "a,,b"], "empty term"),
        (["add", "a, b", "--lang", "xx"], "--lang: unknown locale 'xx'"),
        (["add", "a, b", "--lang", "sv"], "Shelf cannot analyse Swedish"),
        (["import", "missing.txt"], "missing.txt: cannot be read"),
        (["delete", "1", "404"], "synonym 404 does not exist"),
        (["export", "--lang", "klingon"], "--lang: "),
    ],
)
def test_bad_input_exits_2_naming_what_is_wrong(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    _run(capsys, "add", "kept, rule")
    assert main(["synonyms", *argv]) == 2
    assert message in capsys.readouterr().err
    assert len(_run(capsys, "list")) == 1  # type: ignore[arg-type]  # "delete 1 404" removed none


def test_a_full_set_refuses_an_import_naming_the_limit(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHELF_SYNONYMS_MAX_RULES", "2")
    get_settings.cache_clear()
    rules = tmp_path / "three.txt"
    rules.write_text("a, b\nc, d\ne, f\n", encoding="utf-8")
    assert main(["synonyms", "import", str(rules)]) == 2
    assert "SHELF_SYNONYMS_MAX_RULES allows 2: nothing was imported" in capsys.readouterr().err
    assert _run(capsys, "list") == []


def test_the_cli_works_on_postgresql(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHELF_EVENTS_URL", POSTGRES_URL)
    monkeypatch.setenv("SHELF_EVENTS_TABLE_PREFIX", f"t{uuid.uuid4().hex[:8]}_")
    get_settings.cache_clear()
    try:
        _run(capsys, "add", "tv => television", "--lang", "en")
        assert [r["rule"] for r in _run(capsys, "list")] == ["tv => television"]  # type: ignore[attr-defined]
    finally:
        with open_store(get_settings()) as store:
            store.drop_tables()
        from search.events.log import make_event_log

        event_log = make_event_log(get_settings())
        event_log.drop_tables()
        event_log.close()
