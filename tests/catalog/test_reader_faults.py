"""Property tests: a bad record anywhere in a file rejects itself only, at its true line.

Hypothesis writes CSV files (any of the four delimiters, LF or CRLF, cells holding delimiters,
quotes and line breaks) and JSON Lines files with bad records of every kind at random places;
every good record must come back with its data and line, every bad one with an error and its line.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.delimited import read_csv
from catalog.dialect import CANDIDATE_DELIMITERS
from catalog.limits import RecordLimits
from catalog.readers import read_records
from tests.catalog.catalog_faults import (
    HEADER,
    KINDS,
    READER_KINDS,
    Row,
    bad_row,
    good_row,
    write_csv,
)

SMALL_CELL = 64  # max_field_chars for these tests, so an oversize cell stays small
SMALL_LINE = 200  # max_line_bytes for these tests; a good line here is under 100 bytes
# Titles may hold every delimiter, quotes, line breaks and non-ASCII letters.
TITLE = st.text(alphabet=st.sampled_from('abcXYZ é,;|\t"\n-'), max_size=20).map(lambda t: "T" + t)
ROW_KIND = st.one_of(st.none(), st.sampled_from(KINDS))
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _rows(kinds_and_titles: list[tuple[str | None, str]]) -> list[Row]:
    return [
        good_row(f"p{n}", title) if kind is None else bad_row(kind, f"p{n}", title, SMALL_CELL)
        for n, (kind, title) in enumerate(kinds_and_titles)
    ]


@PROPERTY
@given(
    st.lists(st.tuples(ROW_KIND, TITLE), min_size=1, max_size=25),
    st.sampled_from(CANDIDATE_DELIMITERS),
    st.sampled_from(["\n", "\r\n"]),
    st.booleans(),
)
def test_every_good_csv_row_is_read_and_every_unreadable_one_rejected_at_its_line(
    kinds_and_titles: list[tuple[str | None, str]], delimiter: str, newline: str, given_: bool
) -> None:
    rows = _rows(kinds_and_titles)
    data, lines = write_csv(rows, delimiter, newline)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.csv"
        path.write_bytes(data)
        records = list(
            read_csv(
                path,
                delimiter=delimiter if given_ else None,
                limits=RecordLimits(max_field_chars=SMALL_CELL),
            )
        )
    got = {r.line_no: r for r in records}
    assert sorted(got) == lines  # one record per row, each at the line it starts on
    for row, line in zip(rows, lines, strict=True):
        record = got[line]
        if row.kind in READER_KINDS:
            assert record.data is None and record.error, (row, record)
        else:
            expected = {k: v for k, v in zip(HEADER, row.cells, strict=True) if v.strip()}
            assert record.data == expected, (row, record)


JSONL_KINDS = ("bad_json", "undecodable", "not_an_object", "too_long", "blank")


def _jsonl_line(kind: str | None, n: int, title: str) -> bytes:
    record = json.dumps({"id": f"p{n}", "title": title}, ensure_ascii=False).encode()
    if kind is None:
        return record
    return {
        "bad_json": record[:-1],
        "undecodable": record.replace(b"p", b"\xe8", 1),
        "not_an_object": b"[1, 2]",
        "too_long": b'{"title": "' + b"x" * SMALL_LINE + b'"}',
        "blank": b"   ",
    }[kind]


@PROPERTY
@given(
    st.lists(st.tuples(st.one_of(st.none(), st.sampled_from(JSONL_KINDS)), TITLE), max_size=25),
    st.sampled_from([b"\n", b"\r\n"]),
)
def test_every_good_json_line_is_read_and_every_bad_one_rejected_at_its_line(
    kinds_and_titles: list[tuple[str | None, str]], newline: bytes
) -> None:
    lines = [_jsonl_line(kind, n, title) for n, (kind, title) in enumerate(kinds_and_titles)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.jsonl"
        path.write_bytes(b"".join(line + newline for line in lines))
        records = list(read_records(path, limits=RecordLimits(max_line_bytes=SMALL_LINE)))
    expected = [(n + 1, kind) for n, (kind, _) in enumerate(kinds_and_titles) if kind != "blank"]
    assert [r.line_no for r in records] == [line for line, _ in expected]
    for record, (line, kind) in zip(records, expected, strict=True):
        if kind is None:
            assert record.data == {"id": f"p{line - 1}", "title": kinds_and_titles[line - 1][1]}
        else:
            assert record.data is None and record.error, (kind, record)
