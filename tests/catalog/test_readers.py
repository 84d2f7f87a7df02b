from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

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
