from __future__ import annotations

from pathlib import Path

import pytest

from catalog.readers import read_jsonl
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
