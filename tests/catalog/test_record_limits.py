"""A record too large, too deep or too wide is rejected alone, at its line, naming the limit.

One table per format: every kind of oversized record sits between two good ones, and must come
back as the only error, with the setting that raises the limit in its reason. The depth scan is
checked against the parser itself (hypothesis writes JSON with brackets, quotes and escapes in
its strings), and an over-long line is shown never to be held whole (tracemalloc).
"""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.errors import CatalogError
from catalog.limits import RecordLimits, excerpt, too_deep, too_wide
from catalog.readers import read_records

LIMITS = RecordLimits(
    max_line_bytes=20_000,
    max_record_bytes=20_000,
    max_depth=8,
    max_keys=20,
    max_items=30,
    max_field_chars=500,
)
GOOD = {"id": "g", "locale": "en-US", "title": "Lamp", "price": 5, "currency": "EUR"}


def _nested(depth: int, open_: str, close: str) -> str:
    return open_ * depth + "1" + close * depth


# (kind, the bad line, the setting its reason must name)
JSONL_CASES = [
    ("deep_arrays", _nested(9_000, "[", "]"), "SHELF_INGEST_MAX_DEPTH"),
    ("deep_objects", _nested(9, '{"a":', "}"), "SHELF_INGEST_MAX_DEPTH"),
    ("deep_inside_a_field", json.dumps({**GOOD, "bullets": [[[[[[[[["x"]]]]]]]]]}), "MAX_DEPTH"),
    ("long_line", json.dumps({**GOOD, "title": "x" * 30_000}), "SHELF_INGEST_MAX_LINE_BYTES"),
    ("long_line_unterminated", "[" + "1," * 50_000, "SHELF_INGEST_MAX_LINE_BYTES"),
    ("many_keys", json.dumps({**GOOD, **{f"k{n}": n for n in range(20)}}), "MAX_KEYS"),
    ("many_keys_nested", json.dumps({**GOOD, "x": {str(n): n for n in range(21)}}), "MAX_KEYS"),
    ("many_items", json.dumps({**GOOD, "bullets": ["b"] * 31}), "SHELF_INGEST_MAX_ITEMS"),
    ("long_string", json.dumps({**GOOD, "description": "d" * 501}), "MAX_FIELD_CHARS"),
    ("long_key", json.dumps({**GOOD, "k" * 501: 1}), "SHELF_INGEST_MAX_FIELD_CHARS"),
    ("long_integer", '{"id": "i", "price": ' + "9" * 5_000 + "}", "integer string conversion"),
]


@pytest.mark.parametrize(("kind", "line", "setting"), JSONL_CASES, ids=[c[0] for c in JSONL_CASES])
def test_an_oversized_json_line_is_rejected_alone_at_its_line(
    tmp_path: Path, kind: str, line: str, setting: str
) -> None:
    path = tmp_path / "c.jsonl"
    good = json.dumps(GOOD)
    path.write_text(f"{good}\n{line}\n{good}\n", encoding="utf-8")
    records = list(read_records(path, limits=LIMITS))
    assert [(r.line_no, r.data is not None) for r in records] == [(1, True), (2, False), (3, True)]
    assert records[1].error is not None and setting in records[1].error, records[1].error
    assert len(records[1].raw) <= len(line)


# Brackets and quotes inside strings are text: none of these is deep.
SHALLOW_LINES = [
    json.dumps({**GOOD, "title": "[" * 100}),
    json.dumps({**GOOD, "title": '\\"' + "{" * 100}),
    json.dumps({**GOOD, "title": "\\" + "[" * 100 + "\\"}),
    json.dumps({**GOOD, "bullets": ["]" * 50 + "[" * 50]}),
]


@pytest.mark.parametrize("line", SHALLOW_LINES)
def test_brackets_inside_strings_do_not_count_as_depth(tmp_path: Path, line: str) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    (record,) = read_records(path, limits=LIMITS)
    assert record.error is None and record.data == json.loads(line)


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


TRICKY_TEXT = st.text(alphabet=st.sampled_from('ab[]{}"\\,:\n'), max_size=12)
JSON_VALUES = st.recursive(
    st.none() | st.integers() | TRICKY_TEXT,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(TRICKY_TEXT, children, max_size=3)
    ),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES, st.integers(min_value=1, max_value=6))
def test_the_depth_scan_agrees_with_the_parser(value: Any, max_depth: int) -> None:
    line = json.dumps(value).encode()
    deep = too_deep(line, RecordLimits(max_depth=max_depth))
    assert (deep is not None) == (_depth(value) > max_depth), (line, deep)


@pytest.mark.parametrize("shape", ["one_string", "many_items"])
def test_an_over_long_line_is_never_held_whole(tmp_path: Path, shape: str) -> None:
    path = tmp_path / "c.jsonl"
    huge = 40_000_000
    with path.open("wb") as out:
        out.write(json.dumps(GOOD).encode() + b"\n")
        if shape == "one_string":
            out.write(b'{"title": "' + b"x" * huge + b'"}\n')
        else:
            out.write(b"[" + b"1," * (huge // 2) + b"1]\n")
        out.write(json.dumps(GOOD).encode() + b"\n")
    tracemalloc.start()
    try:
        records = list(read_records(path, limits=RecordLimits(max_line_bytes=1_000_000)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [r.line_no for r in records] == [1, 2, 3]
    assert records[1].error is not None
    assert "over the limit of 1,000,000 (SHELF_INGEST_MAX_LINE_BYTES)" in records[1].error
    assert records[0].data == records[2].data == GOOD
    assert peak < 8_000_000  # two pieces of a line at most, never its 40 MB


CSV_HEADER = "id,title,price,currency,locale"


@pytest.mark.parametrize(
    ("kind", "row", "setting"),
    [
        ("long_cell", "b," + "x" * 501 + ",5,EUR,en-US", "SHELF_INGEST_MAX_FIELD_CHARS"),
        ("long_physical_line", "b," + "x," * 15_000, "SHELF_INGEST_MAX_RECORD_BYTES"),
        ("unclosed_quote", 'b,"' + "x" * 25_000, "SHELF_INGEST_MAX_RECORD_BYTES"),
    ],
)
def test_an_oversized_csv_record_is_rejected_alone_at_its_line(
    tmp_path: Path, kind: str, row: str, setting: str
) -> None:
    path = tmp_path / "c.csv"
    good = "g,Lamp,5,EUR,en-US"
    path.write_text(f"{CSV_HEADER}\n{good}\n{row}\n{good}\n", encoding="utf-8")
    records = list(read_records(path, limits=LIMITS))
    last_line = 4 + row.count("\n")
    assert [(r.line_no, r.data is not None) for r in records] == [
        (2, True),
        (3, False),
        (last_line, True),
    ]
    assert records[1].error is not None and setting in records[1].error, records[1].error
    assert len(json.dumps(records[1].raw)) < 2_000


def test_a_csv_with_too_many_columns_is_refused_naming_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text(",".join(f"c{n}" for n in range(21)) + "\n" + "1," * 20 + "1\n")
    with pytest.raises(CatalogError, match="21 columns, over the limit of 20 .*MAX_KEYS"):
        list(read_records(path, limits=LIMITS))


@pytest.mark.parametrize(
    ("record", "kept"),
    [
        ("short", "short"),
        ("x" * 10_000, "x" * 500 + "… [10,000 characters]"),
        ({"id": "a"}, {"id": "a"}),
        ({"d": "y" * 10_000}, '{"d": "' + "y" * 493 + "… [10,009 characters]"),
    ],
)
def test_a_reject_keeps_a_bounded_excerpt_of_its_record(
    record: str | dict[str, str], kept: str | dict[str, str]
) -> None:
    assert excerpt(record) == kept


def test_width_names_where_in_the_record() -> None:
    reason = too_wide({"bullets": ["ok", "x" * 501]}, LIMITS)
    assert reason == (
        "field 'bullets[1]' has 501 characters, over the limit of 500 "
        "(SHELF_INGEST_MAX_FIELD_CHARS)"
    )


def _parquet_rows(bad: pa.Table, path: Path, **options: object) -> Path:
    good = pa.Table.from_pylist([{**GOOD, "bullets": ["b"]}], schema=bad.schema)
    with pq.ParquetWriter(path, bad.schema, **options) as writer:  # type: ignore[arg-type]
        for table in (good, bad, good):
            writer.write_table(table)
    return path


def _bad_table(title: str | pa.Array, bullets: list[str] | pa.Array, rows: int = 2) -> pa.Table:
    titles = title if isinstance(title, pa.Array) else pa.array([title] * rows)
    lists = bullets if isinstance(bullets, pa.Array) else pa.array([bullets] * rows)
    columns = {"id": ["b"] * rows, "locale": ["en-US"] * rows, "title": titles,
               "price": [5] * rows, "currency": ["EUR"] * rows, "bullets": lists}  # fmt: skip
    return pa.table(columns)


def _one_value(value: str, rows: int = 2) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array([0] * rows, pa.int32()), [value]).cast(
        pa.string()
    )


# (kind, the bad rows, writer options, the setting their reason must name)
PARQUET_CASES = [
    ("row_over_record_bytes", _bad_table(_one_value("t" * 30_000), ["b"]), {},
     "SHELF_INGEST_MAX_RECORD_BYTES"),
    ("list_over_record_bytes", _bad_table("Lamp", ["x" * 10_000] * 3), {},
     "SHELF_INGEST_MAX_RECORD_BYTES"),
    ("row_group_over_record_bytes", _bad_table("t" * 30_000, ["b"], rows=1),
     {"use_dictionary": False}, "SHELF_INGEST_MAX_RECORD_BYTES"),
    ("too_many_items", _bad_table("Lamp", ["b"] * 31), {}, "SHELF_INGEST_MAX_ITEMS"),
    ("long_string", _bad_table("t" * 501, ["b"]), {}, "SHELF_INGEST_MAX_FIELD_CHARS"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "bad", "options", "setting"), PARQUET_CASES, ids=[c[0] for c in PARQUET_CASES]
)
def test_an_oversized_parquet_row_is_rejected_alone_at_its_row(
    tmp_path: Path, kind: str, bad: pa.Table, options: dict[str, object], setting: str
) -> None:
    path = _parquet_rows(bad, tmp_path / "c.parquet", **options)
    records = list(read_records(path, limits=LIMITS))
    last = bad.num_rows + 2
    assert [r.line_no for r in records] == list(range(1, last + 1))
    assert [r.line_no for r in records if r.data is not None] == [1, last]
    for record in records[1:-1]:
        assert record.error is not None and setting in record.error, record.error
        assert len(json.dumps(record.raw)) < 2_000 or kind in ("too_many_items", "long_string")


def test_a_parquet_file_with_too_many_columns_is_refused_naming_the_limit(tmp_path: Path) -> None:
    pq.write_table(pa.table({f"c{n}": [1] for n in range(21)}), tmp_path / "c.parquet")
    with pytest.raises(CatalogError, match="21 columns, over the limit of 20 .*MAX_KEYS"):
        list(read_records(tmp_path / "c.parquet", limits=LIMITS))
