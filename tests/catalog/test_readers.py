from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from catalog.dialect import ReadOptions
from catalog.limits import DEFAULT_LIMITS, RecordLimits
from catalog.readers import read_jsonl, read_records
from search.errors import CatalogError


def test_records_carry_their_line_numbers_and_blank_lines_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text('{"id": "a"}\n\n   \n{"id": "b"}\n', encoding="utf-8")
    records = list(read_jsonl(path))
    assert [(r.line_no, r.data) for r in records] == [(1, {"id": "a"}), (4, {"id": "b"})]


def test_unparseable_lines_are_yielded_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_bytes(b'{"id": \n[1, 2]\n\xff\xfe{}\n{"ok": true}\n')
    records = list(read_jsonl(path))
    assert [r.line_no for r in records] == [1, 2, 3, 4]
    assert records[0].error is not None and records[0].error.startswith("not valid JSON")
    assert records[1].error == "not a JSON object"
    assert records[2].error is not None and records[2].error.startswith("not valid UTF-8")
    assert records[3].data == {"ok": True}


def test_a_byte_order_mark_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_bytes('\ufeff{"id": "a"}\n'.encode())
    assert [r.data for r in read_jsonl(path)] == [{"id": "a"}]


def test_missing_file_is_a_catalog_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="cannot open catalog file"):
        list(read_jsonl(tmp_path / "nope.jsonl"))


def test_csv_rows_report_the_file_line_they_start_on(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text(
        'id,title,description\na,Kettle,"two\nline description"\n\nb,Mug,\n', encoding="utf-8"
    )
    records = list(read_records(path))
    assert [(r.line_no, r.data) for r in records] == [
        (2, {"id": "a", "title": "Kettle", "description": "two\nline description"}),
        (5, {"id": "b", "title": "Mug"}),  # the empty cell reads as absent
    ]


def test_a_csv_row_with_the_wrong_number_of_cells_is_yielded_with_the_reason(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.csv"
    path.write_text("id,title\na,Kettle,extra\nb,Mug\n", encoding="utf-8")
    records = list(read_records(path))
    assert records[0].error is not None
    assert records[0].error.startswith("row has 3 cells, the header has 2 (delimiter ',')")
    assert records[0].raw == {"id": "a", "title": "Kettle"}
    assert (records[1].line_no, records[1].data) == (3, {"id": "b", "title": "Mug"})


def test_parquet_rows_are_numbered_from_one_across_batches(tmp_path: Path) -> None:
    rows = [{"id": f"p{n}", "price": float(n), "brand": None} for n in range(5000)]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "c.parquet", row_group_size=1000)
    records = list(read_records(tmp_path / "c.parquet"))
    assert [r.line_no for r in records] == list(range(1, 5001))
    assert records[4999].data == {"id": "p4999", "price": 4999.0}


def test_an_unreadable_parquet_file_is_a_catalog_error(tmp_path: Path) -> None:
    path = tmp_path / "c.parquet"
    path.write_bytes(b"not parquet at all")
    with pytest.raises(CatalogError, match="cannot read Parquet catalog"):
        list(read_records(path))


def test_an_unsupported_suffix_names_the_supported_ones(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match=r"unsupported catalog format '\.xml'; use one of"):
        read_records(tmp_path / "c.xml")


def test_a_quote_never_closed_rejects_its_record_and_keeps_the_rows_before(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text('id,title\na,Kettle\nb,"Mug\nc,Lamp\n', encoding="utf-8")
    records = list(read_records(path))
    assert [(r.line_no, r.data) for r in records][0] == (2, {"id": "a", "title": "Kettle"})
    assert records[1].line_no == 3
    assert (
        records[1].error == "a quoted cell opened on line 3 is never closed (the file ends first)"
    )


def test_a_quoted_record_over_the_size_limit_is_rejected_and_reading_resumes(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.csv"
    path.write_text('id,title\na,"open\n' + "x\n" * 30 + "b,Mug\n", encoding="utf-8")
    records = list(read_records(path, limits=RecordLimits(max_record_bytes=40)))
    assert records[0].line_no == 2
    assert records[0].error is not None and "is still open after" in records[0].error
    assert "over the limit of 40 (SHELF_INGEST_MAX_RECORD_BYTES)" in records[0].error
    assert (records[-1].line_no, records[-1].data) == (33, {"id": "b", "title": "Mug"})


def test_an_oversize_cell_is_rejected_naming_its_column_and_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    limit = DEFAULT_LIMITS.max_field_chars
    big = "x" * (limit + 1)
    path.write_text(f"id,title,notes\na,Kettle,{big}\nb,Mug,short\n", encoding="utf-8")
    first, second = read_records(path)
    assert first.error == (
        f"cell 'notes' has {limit + 1:,} characters, over the limit of {limit:,} "
        "(SHELF_INGEST_MAX_FIELD_CHARS)"
    )
    assert isinstance(first.raw, dict) and len(first.raw["notes"]) < 300
    assert second.data == {"id": "b", "title": "Mug", "notes": "short"}


def test_a_cell_over_pythons_default_csv_field_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    notes = "y" * 150_000  # csv's own field_size_limit is 131,072
    path.write_text(f"id,notes\na,{notes}\nb,short\n", encoding="utf-8")
    assert [r.data for r in read_records(path)] == [
        {"id": "a", "notes": notes},
        {"id": "b", "notes": "short"},
    ]


def test_an_undecodable_byte_in_a_multi_line_cell_names_its_own_line(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes(b'id,description\na,"first line\nsecond \xe8 line"\nb,ok\n')
    first, second = read_records(path)
    assert first.line_no == 2
    assert first.error is not None and first.error.startswith(
        "not valid UTF-8: byte 0xe8 at line 3, column 8"
    )
    assert (second.line_no, second.data) == (4, {"id": "b", "description": "ok"})


def test_an_undecodable_header_is_a_catalog_error_naming_the_encoding_option(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes(b"id,d\xe8scription\na,b\n")
    with pytest.raises(CatalogError, match=r"CSV header row \(line 1\).*--encoding"):
        list(read_records(path))


def test_a_utf16_csv_is_read_with_its_encoding_given(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes("id;title\na;Crème brûlée\n".encode("utf-16"))
    records = list(read_records(path, ReadOptions(encoding="utf-16")))
    assert [r.data for r in records] == [{"id": "a", "title": "Crème brûlée"}]


def test_a_jsonl_file_in_another_encoding_is_read_with_it_given(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_bytes('{"title": "Crème"}\n'.encode("cp1252"))
    assert [r.data for r in read_records(path, ReadOptions(encoding="cp1252"))] == [
        {"title": "Crème"}
    ]
    (default,) = read_records(path)
    assert default.error is not None and default.error.startswith("not valid UTF-8 at byte 13")
