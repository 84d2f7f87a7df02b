"""Catalog readers: stream records with their line or row numbers, in constant memory.

Every reader yields ``SourceRecord``s and never aborts a file for one bad record: a record that
cannot be decoded, is over a size limit, or has the wrong number of cells is yielded with its
error and its first physical line, and reading goes on with the next one. Only a file that cannot
be opened at all (or a CSV whose header cannot be read) raises ``CatalogError``.
``read_records`` picks the reader by suffix; ``catalog.dialect`` says how the file is written.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from catalog.dialect import (
    CANDIDATE_DELIMITERS,
    DEFAULT_ENCODING,
    ReadOptions,
    ascii_compatible,
    resolve_options,
)
from catalog.errors import CatalogError

MAX_LINE_BYTES = 2_000_000  # a JSON line past this is rejected unread rather than parsed
MAX_CELL_CHARS = 1_000_000  # a CSV cell past this rejects its row (Python's csv stops at 131,072)
MAX_RECORD_CHARS = 4_000_000  # a CSV record (all its lines) past this is rejected unparsed
PARQUET_BATCH_ROWS = 2_048
RAW_CELL_KEPT = 200  # an oversize cell is kept this long in the reject, with its length

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
CSV_SUFFIXES = (".csv", ".tsv")
PARQUET_SUFFIXES = (".parquet", ".pq")

ENCODING_HINT = "give the file's encoding with --encoding (e.g. cp1252), or --encoding auto"
_ESCAPED = re.compile("[\udc80-\udcff]")  # bytes the codec could not decode (surrogateescape)


@dataclass(frozen=True)
class SourceRecord:
    """One record as read: where it starts, its original form, the parsed object or the error.

    ``raw`` is the original line for JSON Lines and the row as an object for CSV and Parquet.
    """

    line_no: int
    raw: str | dict[str, Any]
    data: dict[str, Any] | None
    error: str | None = None


def is_csv(path: Path) -> bool:
    """Whether ``path`` is read as CSV (by suffix)."""
    return path.suffix.lower() in CSV_SUFFIXES


def read_records(path: Path, options: ReadOptions | None = None) -> Iterator[SourceRecord]:
    """Stream a catalog file of any supported format, chosen by its suffix.

    ``options`` as resolved by ``catalog.dialect.resolve_options`` (unresolved ones are resolved
    here, which sniffs the file).
    """
    suffix = path.suffix.lower()
    options = options or ReadOptions()
    if suffix in JSONL_SUFFIXES:
        return read_jsonl(path, encoding=options.encoding)
    if suffix in CSV_SUFFIXES:
        return read_csv(path, delimiter=options.delimiter, encoding=options.encoding)
    if suffix in PARQUET_SUFFIXES:
        return read_parquet(path)
    supported = ", ".join(JSONL_SUFFIXES + CSV_SUFFIXES + PARQUET_SUFFIXES)
    raise CatalogError(f"{path}: unsupported catalog format {suffix!r}; use one of {supported}")


def _open_binary(path: Path) -> io.BufferedReader:
    try:
        return path.open("rb")
    except OSError as exc:
        raise CatalogError(f"cannot open catalog file {path}: {exc.strerror}") from exc


def _codec_label(encoding: str) -> str:
    return "UTF-8" if encoding == DEFAULT_ENCODING else encoding


def read_jsonl(path: Path, *, encoding: str | None = None) -> Iterator[SourceRecord]:
    """Yield every non-blank line of a JSON Lines file as a SourceRecord (1-based line numbers).

    Each line is decoded on its own (UTF-8 unless ``encoding``), so a byte that does not decode
    rejects its line only.
    """
    encoding = resolve_options(path, ReadOptions(encoding), csv_file=False).encoding or "utf-8"
    if not ascii_compatible(encoding):
        raise CatalogError(
            f"{path}: JSON Lines cannot be read as {encoding} (line breaks are not single "
            "bytes); convert the file to UTF-8, as JSON Lines requires"
        )
    handle = _open_binary(path)
    with handle:
        yield from _jsonl_records(handle, encoding)


def _jsonl_records(lines: Iterable[bytes], encoding: str) -> Iterator[SourceRecord]:
    for line_no, line in enumerate(lines, start=1):
        if len(line) > MAX_LINE_BYTES:
            yield SourceRecord(
                line_no, "", None, f"line is {len(line)} bytes, over the {MAX_LINE_BYTES} limit"
            )
            continue
        try:
            text = line.decode(encoding)
        except UnicodeDecodeError as exc:
            raw = line.decode(encoding, "replace").strip()
            error = (
                f"not valid {_codec_label(encoding)} at byte {exc.start} "
                f"(0x{line[exc.start]:02x}); {ENCODING_HINT}"
            )
            yield SourceRecord(line_no, raw, None, error)
            continue
        text = text.strip().lstrip("\ufeff")
        if not text:
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            yield SourceRecord(
                line_no, text, None, f"not valid JSON: {exc.msg} at column {exc.colno}"
            )
            continue
        if not isinstance(data, dict):
            yield SourceRecord(line_no, text, None, "not a JSON object")
            continue
        yield SourceRecord(line_no, text, data)


def read_csv(
    path: Path, *, delimiter: str | None = None, encoding: str | None = None
) -> Iterator[SourceRecord]:
    """Yield every data row of a CSV file with a header row, numbered by the file line it starts on.

    The header is line 1. A quoted cell may span lines; the record then reports its first line,
    and the records after it keep their true lines. Empty cells are left out of the record, so
    they read as absent rather than as "". ``delimiter`` None sniffs it; ``encoding`` None is
    UTF-8. Undecodable bytes, a cell over ``MAX_CELL_CHARS``, a record over
    ``MAX_RECORD_CHARS``, broken quoting or a wrong cell count reject that record only.
    """
    options = resolve_options(path, ReadOptions(encoding, delimiter), csv_file=True)
    encoding, delimiter = options.encoding or DEFAULT_ENCODING, options.delimiter or ","
    # Our own framing bounds a record at MAX_RECORD_CHARS; csv must not stop earlier.
    csv.field_size_limit(max(csv.field_size_limit(), MAX_RECORD_CHARS))
    handle = _open_binary(path)
    text = io.TextIOWrapper(handle, encoding=encoding, errors="surrogateescape", newline="")
    with handle, text:
        rows = _CsvRows(delimiter, encoding)
        for line_no, record, error in frame_records(text, delimiter):
            if rows.columns is None:
                rows.columns = rows.header(path, line_no, record, error)
                continue
            row = rows.row(line_no, record, error, rows.columns)
            if row is not None:
                yield row


class _OneRecord:
    """csv.reader's input: the record it was last given, then end of input (not a generator,
    which could never give input again after its end)."""

    def __init__(self) -> None:
        self.text: str | None = None

    def __iter__(self) -> _OneRecord:
        return self

    def __next__(self) -> str:
        text, self.text = self.text, None
        if text is None:
            raise StopIteration
        return text


class _CsvRows:
    """Framed CSV records to SourceRecords: decoding check, cells, size limit, cell count.

    One long-lived csv.reader parses every record: it resets its state at each row and gets one
    framed record at a time, so an error in one record never carries into the next.
    """

    def __init__(self, delimiter: str, encoding: str) -> None:
        self.delimiter = delimiter
        self.encoding = encoding
        self.columns: list[str] | None = None
        self._feed = _OneRecord()
        self._reader = csv.reader(self._feed, delimiter=delimiter, strict=True)

    def parse(self, record: str) -> list[str]:
        """The cells of one framed record; csv.Error when its quoting is broken."""
        self._feed.text = record
        try:
            return next(self._reader)
        except StopIteration:
            return []

    def header(self, path: Path, line_no: int, record: str, error: str | None) -> list[str] | None:
        """The column names, None for a blank line before them, CatalogError if unreadable."""
        if not record.strip():
            return None
        if error is None and _ESCAPED.search(record):
            error = f"it is not valid {_codec_label(self.encoding)}; {ENCODING_HINT}"
        if error is None:
            try:
                return [name.strip().lstrip("\ufeff") for name in self.parse(record)]
            except csv.Error as exc:
                error = str(exc)
        raise CatalogError(f"{path}: cannot read the CSV header row (line {line_no}): {error}")

    def row(
        self, line_no: int, record: str, error: str | None, columns: list[str]
    ) -> SourceRecord | None:
        """The record of one framed CSV row, or None for a blank one."""
        escaped = _ESCAPED.search(record)
        if error is None and escaped:
            error = _decode_error(line_no, record, escaped.start(), self.encoding)
        if error is not None:
            return SourceRecord(line_no, _ESCAPED.sub("\ufffd", record[:10_000]), None, error)
        if not record.strip():
            return None
        try:
            row = self.parse(record)
        except csv.Error as exc:
            return SourceRecord(line_no, record[:10_000], None, f"broken CSV quoting: {exc}")
        if not any(cell.strip() for cell in row):
            return None
        raw = dict(zip(columns, row, strict=False))
        if max(map(len, row)) > MAX_CELL_CHARS:
            name = next(name for name, cell in raw.items() if len(cell) > MAX_CELL_CHARS)
            size = len(raw[name])
            raw[name] = f"{raw[name][:RAW_CELL_KEPT]}... ({size:,} characters)"
            return SourceRecord(
                line_no, raw, None,
                f"cell {name!r} has {size:,} characters, over the {MAX_CELL_CHARS:,} limit "
                "(MAX_CELL_CHARS)",
            )  # fmt: skip
        if len(row) != len(columns):
            reason = _cell_count_error(len(row), columns, self.delimiter)
            return SourceRecord(line_no, raw, None, reason)
        return SourceRecord(line_no, raw, {k: v for k, v in raw.items() if v.strip()})


def _decode_error(line_no: int, record: str, position: int, encoding: str) -> str:
    before = record[:position]
    line = line_no + before.count("\n")
    column = position - (before.rfind("\n") + 1) + 1
    byte = ord(record[position]) - 0xDC00
    where = f"line {line}, column {column}" if line != line_no else f"column {column}"
    return f"not valid {_codec_label(encoding)}: byte 0x{byte:02x} at {where}; {ENCODING_HINT}"


def _cell_count_error(cells: int, columns: list[str], delimiter: str) -> str:
    message = f"row has {cells} cells, the header has {len(columns)} (delimiter {delimiter!r})"
    others = [d for d in CANDIDATE_DELIMITERS if d != delimiter and d in "".join(columns)]
    if len(columns) == 1 and others:
        message += (
            f"; the header holds {others[0]!r}: is the delimiter wrong? pass "
            f"--delimiter {others[0]!r} (or leave it out to sniff it)"
        )
    elif cells > len(columns):
        message += (
            "; a cell holding the delimiter must be quoted (a decimal comma in a "
            "comma-separated file?)"
        )
    return message


def frame_records(lines: Iterable[str], delimiter: str) -> Iterator[tuple[int, str, str | None]]:
    """Group physical lines into CSV records: ``(first line, text, error)``.

    A record ends at a line break outside a quoted cell (RFC 4180 quoting, ``""`` escapes). A
    record still open after ``MAX_RECORD_CHARS`` characters, or at the end of the file, is
    yielded with an error, and framing starts again on the next line.
    """
    buffer: list[str] = []
    size = start = 0
    in_quotes = False
    line_no = 0
    for line_no, line in enumerate(lines, start=1):
        if not buffer:
            start = line_no
        buffer.append(line)
        size += len(line)
        in_quotes = _ends_quoted(line, delimiter, in_quotes)
        if size > MAX_RECORD_CHARS:
            record = "".join(buffer)[:10_000]
            reason = (
                f"a quoted cell opened on line {start} is not closed within {MAX_RECORD_CHARS:,} "
                "characters" if in_quotes else
                f"record has over {MAX_RECORD_CHARS:,} characters (MAX_RECORD_CHARS)"
            )  # fmt: skip
            yield start, record, reason
        elif in_quotes:
            continue
        else:
            yield start, "".join(buffer), None
        buffer, size, in_quotes = [], 0, False
    if buffer:
        reason = f"a quoted cell opened on line {start} is never closed (the file ends first)"
        yield start, "".join(buffer)[:10_000], reason


def _ends_quoted(line: str, delimiter: str, in_quotes: bool, quote: str = '"') -> bool:
    """Whether ``line`` ends inside a quoted cell, given whether it started inside one."""
    if quote not in line:
        return in_quotes
    i, n = 0, len(line)
    at_start = not in_quotes  # at the start of a cell, where a quote opens a quoted cell
    while i < n:
        if in_quotes:
            j = line.find(quote, i)
            if j < 0:
                return True
            if line.startswith(quote, j + 1):
                i = j + 2  # an escaped quote
                continue
            in_quotes, at_start, i = False, False, j + 1
        elif at_start:
            if line[i] == quote:
                in_quotes, i = True, i + 1
            at_start = False
        else:
            j = line.find(delimiter, i)
            if j < 0:
                return False
            at_start, i = True, j + 1
    return in_quotes


def read_parquet(path: Path) -> Iterator[SourceRecord]:
    """Yield every row of a Parquet file (1-based row numbers), one record batch in memory."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as exc:
        raise CatalogError(f"cannot read Parquet catalog {path}: {exc}") from exc
    row_no = 0
    with parquet:
        for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS):
            for row in batch.to_pylist():
                row_no += 1
                yield SourceRecord(row_no, row, {k: v for k, v in row.items() if v is not None})
