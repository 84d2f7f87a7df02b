"""`shelf ingest` on the shared real-world cases 14, 16 and 19 (copies in tests/catalog/data/cases).

Each test runs the CLI on the case's file, then opens the index it wrote to check what is
searchable; the exit code and the rejects file are part of the behaviour.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from search.cli.ingest import EXIT_NOTHING_STORED, EXIT_OK, EXIT_REJECTS
from search.cli.main import main
from search.recall.embedded.backend import EmbeddedRecall
from search.settings import get_settings

CASES = Path(__file__).parents[2] / "catalog" / "data" / "cases"
SEMICOLON = CASES / "14-semicolon-csv"
CP1252 = CASES / "16-non-utf8-csv"
DUPLICATES = CASES / "19-duplicate-ids"


def _ingest(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
    capsys.readouterr()
    code = main(["ingest", *argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


def _index() -> EmbeddedRecall:
    return EmbeddedRecall(get_settings().index_dir)


def _titles(query: str) -> list[str]:
    recall = _index()
    try:
        return sorted(hit.product.title for hit in recall.search(query, limit=10))
    finally:
        recall.close()


def _rejects(path: object) -> list[dict[str, object]]:
    assert isinstance(path, str)
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]


def test_a_semicolon_csv_is_sniffed_and_its_decimal_comma_read_with_the_option(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, report = _ingest(capsys, str(SEMICOLON / "excel_de.csv"), "--decimal-comma")
    assert (code, report["delimiter"], report["indexed"]) == (EXIT_OK, ";", 2)
    recall = _index()
    assert sorted(h.product.price for h in recall.search("aus", limit=5)) == [19.5, 24.99]
    recall.close()


def test_a_decimal_comma_mapping_option_reads_the_price(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mapping = tmp_path / "m.json"
    mapping.write_text('{"decimal_comma": true}', encoding="utf-8")
    code, report = _ingest(capsys, str(SEMICOLON / "excel_de.csv"), "--mapping", str(mapping))
    assert (code, report["indexed"]) == (EXIT_OK, 2)


def test_a_decimal_comma_without_the_option_is_named_as_such(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, report = _ingest(capsys, str(SEMICOLON / "excel_de.csv"))
    assert code == EXIT_NOTHING_STORED
    reasons = [r["reason"] for r in report["rejects"]]  # type: ignore[attr-defined]
    assert all("has a decimal comma: pass --decimal-comma" in r for r in reasons), reasons
    assert not any("cells" in r for r in reasons)


def test_a_semicolon_csv_with_whole_prices_needs_no_option(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, report = _ingest(capsys, str(SEMICOLON / "excel_de_whole_prices.csv"))
    assert (code, report["indexed"], report["rejected"]) == (EXIT_OK, 2, 0)


def test_a_wrong_delimiter_option_is_named_in_the_reject_not_just_a_cell_count(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, report = _ingest(capsys, str(SEMICOLON / "excel_de.csv"), "--delimiter", ",")
    assert code == EXIT_NOTHING_STORED
    for reject in report["rejects"]:  # type: ignore[attr-defined]
        assert "is the delimiter wrong? pass --delimiter ';'" in reject["reason"]


@pytest.mark.parametrize(
    ("name", "rows", "bad_line"),
    [("excel_cp1252.csv", 2000, 1001), ("excel_cp1252_early.csv", 300, 51)],
)
def test_an_undecodable_row_is_rejected_alone_with_its_line_and_the_exit_code_says_so(
    capsys: pytest.CaptureFixture[str], name: str, rows: int, bad_line: int
) -> None:
    code, report = _ingest(capsys, str(CP1252 / name))
    assert code == EXIT_REJECTS
    assert (report["read"], report["indexed"], report["rejected"]) == (rows, rows - 1, 1)
    (reject,) = _rejects(report["rejects_file"])
    assert reject["line"] == bad_line
    assert str(reject["reason"]).startswith("not valid UTF-8: byte 0xe8")
    assert "--encoding" in str(reject["reason"])
    recall = _index()
    assert recall.count() == rows - 1
    recall.close()


def test_allow_rejects_exits_zero_and_still_reports_the_rejected_row(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, report = _ingest(capsys, str(CP1252 / "excel_cp1252_early.csv"), "--allow-rejects")
    assert (code, report["rejected"]) == (EXIT_OK, 1)
    assert report["rejects_file"] is not None


@pytest.mark.parametrize("encoding", ["cp1252", "auto"])
def test_a_given_or_detected_encoding_indexes_every_row_with_its_letters(
    capsys: pytest.CaptureFixture[str], encoding: str
) -> None:
    code, report = _ingest(capsys, str(CP1252 / "excel_cp1252.csv"), "--encoding", encoding)
    assert (code, report["indexed"], report["encoding"]) == (EXIT_OK, 2000, "cp1252")
    assert report["rejects_file"] is None
    assert _titles("brûlée") == ["Crème brûlée torch"]


def test_an_id_twice_in_a_file_is_reported_and_its_last_row_wins(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, report = _ingest(capsys, str(DUPLICATES / "day1.jsonl"))
    assert code == EXIT_OK
    counts = [report[k] for k in ("read", "indexed", "updated", "rejected", "duplicates")]
    assert counts == [3, 2, 0, 0, 1]
    assert report["superseded"] == [{"line": 1, "id": "d1", "superseded_by": 2}]
    (superseded,) = _rejects(report["rejects_file"])
    assert (superseded["line"], superseded["superseded_by"]) == (1, 2)
    recall = _index()
    assert recall.count() == 2
    assert [h.product.price for h in recall.search("grinder", limit=5)] == [12.0]
    recall.close()


def test_reingesting_a_file_with_duplicate_ids_changes_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _ingest(capsys, str(DUPLICATES / "day1.jsonl"))
    code, report = _ingest(capsys, str(DUPLICATES / "day1.jsonl"))
    assert code == EXIT_OK
    counts = [report[k] for k in ("indexed", "updated", "unchanged", "duplicates")]
    assert counts == [0, 0, 2, 1]


def test_a_full_reload_reports_the_products_it_really_deleted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _ingest(capsys, str(DUPLICATES / "day1.jsonl"))
    code, report = _ingest(capsys, str(DUPLICATES / "day2_full.jsonl"), "--full")
    assert code == EXIT_OK
    counts = [report[k] for k in ("read", "unchanged", "duplicates", "deleted")]
    assert counts == [2, 1, 1, 1]
    assert _titles("kettle") == []
    assert _titles("grinder") == ["Coffee grinder"]


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--encoding", "win-1252"], "unknown encoding 'win-1252'"),
        (["--delimiter", ";;"], "--delimiter ';;' is not one character"),
    ],
)
def test_a_bad_encoding_or_delimiter_option_is_bad_input_and_leaves_no_rejects_file(
    capsys: pytest.CaptureFixture[str], option: list[str], message: str
) -> None:
    assert main(["ingest", str(SEMICOLON / "excel_de.csv"), *option]) == 2
    assert message in capsys.readouterr().err
    assert not (get_settings().data_dir / "rejects").exists() or not any(
        (get_settings().data_dir / "rejects").iterdir()
    )
