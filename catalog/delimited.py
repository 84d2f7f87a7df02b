"""CSV and TSV catalogs: records framed by their quoting, numbered by the line they start on.

``frame_records`` groups physical lines into records itself (so a broken quote costs one record,
not the rest of the file) and one long-lived ``csv.reader`` splits each record into cells.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from catalog.dialect import CANDIDATE_DELIMITERS, DEFAULT_ENCODING, ReadOptions, resolve_options
from catalog.errors import CatalogError
from catalog.limits import DEFAULT_LIMITS, REJECT_EXCERPT_CHARS, RecordLimits
from catalog.source import ENCODING_HINT, SourceRecord, bounded_lines, codec_label, open_binary

RAW_CELL_KEPT = 200  # an oversize cell is kept this long in the reject, with its length
_ESCAPED = re.compile("[\udc80-\udcff]")  # bytes the codec could not decode (surrogateescape)


def read_csv(
    path: Path,
    *,
    delimiter: str | None = None,
    encoding: str | None = None,
    limits: RecordLimits = DEFAULT_LIMITS,
) -> Iterator[SourceRecord]:
    """Yield every data row of a CSV file with a header row, numbered by the file line it starts on.

    The header is line 1. A quoted cell may span lines; the record then reports its first line,
    and the records after it keep their true lines. Empty cells are left out of the record, so
    they read as absent rather than as "". ``delimiter`` None sniffs it; ``encoding`` None is
    UTF-8. Undecodable bytes, a cell over ``limits.max_field_chars``, a record over
    ``limits.max_record_bytes`` characters (never held whole), broken quoting or a wrong cell
    count reject that record only; a header of more than ``limits.max_keys`` columns, the file.
    """
    options = resolve_options(path, ReadOptions(encoding, delimiter), csv_file=True)
    encoding, delimiter = options.encoding or DEFAULT_ENCODING, options.delimiter or ","
    # Our own framing bounds a record at max_record_bytes; csv must not stop earlier.
    csv.field_size_limit(max(csv.field_size_limit(), limits.max_record_bytes))
    handle = open_binary(path)
    text = io.TextIOWrapper(handle, encoding=encoding, errors="surrogateescape", newline="")
    with handle, text:
        rows = _CsvRows(delimiter, encoding, limits)
        lines = bounded_lines(text.readline, limits.max_record_bytes, ("\n", "\r"))
        for line_no, record, error in frame_records(lines, delimiter, limits):
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

    def __init__(self, delimiter: str, encoding: str, limits: RecordLimits) -> None:
        self.delimiter = delimiter
        self.encoding = encoding
        self.limits = limits
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
            error = f"it is not valid {codec_label(self.encoding)}; {ENCODING_HINT}"
        if error is None:
            try:
                columns = [name.strip().lstrip("\ufeff") for name in self.parse(record)]
            except csv.Error as exc:
                error = str(exc)
            else:
                if len(columns) <= self.limits.max_keys:
                    return columns
                error = self.limits.over("max_keys", f"it has {len(columns):,} columns")
        raise CatalogError(f"{path}: cannot read the CSV header row (line {line_no}): {error}")

    def row(
        self, line_no: int, record: str, error: str | None, columns: list[str]
    ) -> SourceRecord | None:
        """The record of one framed CSV row, or None for a blank one."""
        escaped = _ESCAPED.search(record)
        if error is None and escaped:
            error = _decode_error(line_no, record, escaped.start(), self.encoding)
        size = len(record)
        if error is not None:
            text = _ESCAPED.sub("\ufffd", record[:REJECT_EXCERPT_CHARS])
            return SourceRecord(line_no, text, None, error, size)
        if not record.strip():
            return None
        try:
            row = self.parse(record)
        except csv.Error as exc:
            reason = f"broken CSV quoting: {exc}"
            return SourceRecord(line_no, record[:REJECT_EXCERPT_CHARS], None, reason, size)
        if not any(cell.strip() for cell in row):
            return None
        raw = dict(zip(columns, row, strict=False))
        limit = self.limits.max_field_chars
        if max(map(len, row)) > limit:
            name = next(name for name, cell in raw.items() if len(cell) > limit)
            size = len(raw[name])
            raw[name] = f"{raw[name][:RAW_CELL_KEPT]}... ({size:,} characters)"
            reason = self.limits.over("max_field_chars", f"cell {name!r} has {size:,} characters")
            return SourceRecord(line_no, raw, None, reason, len(record))
        if len(row) != len(columns):
            reason = _cell_count_error(len(row), columns, self.delimiter)
            return SourceRecord(line_no, raw, None, reason, size)
        return SourceRecord(line_no, raw, {k: v for k, v in raw.items() if v.strip()}, None, size)


def _decode_error(line_no: int, record: str, position: int, encoding: str) -> str:
    before = record[:position]
    line = line_no + before.count("\n")
    column = position - (before.rfind("\n") + 1) + 1
    byte = ord(record[position]) - 0xDC00
    where = f"line {line}, column {column}" if line != line_no else f"column {column}"
    return f"not valid {codec_label(encoding)}: byte 0x{byte:02x} at {where}; {ENCODING_HINT}"


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


def frame_records(
    lines: Iterable[tuple[str, int, bool]], delimiter: str, limits: RecordLimits = DEFAULT_LIMITS
) -> Iterator[tuple[int, str, str | None]]:
    """Group physical lines (as ``bounded_lines`` yields them) into CSV records:
    ``(first line, text, error)``.

    A record ends at a line break outside a quoted cell (RFC 4180 quoting, ``""`` escapes). A
    record still open after ``limits.max_record_bytes`` characters, or at the end of the file,
    is yielded with an error and only its start, and framing starts again on the next line.
    """
    buffer: list[str] = []
    size = start = 0
    in_quotes = False
    line_no = 0
    for line_no, (line, length, whole) in enumerate(lines, start=1):
        if not buffer:
            start = line_no
        buffer.append(line)
        size += length
        in_quotes = whole and _ends_quoted(line, delimiter, in_quotes)
        if size > limits.max_record_bytes:
            record = "".join(buffer)[:REJECT_EXCERPT_CHARS]
            what = (
                f"a quoted cell opened on line {start} is still open after {size:,} characters"
                if in_quotes else f"the record has {size:,} characters"
            )  # fmt: skip
            yield start, record, limits.over("max_record_bytes", what)
        elif in_quotes:
            continue
        else:
            yield start, "".join(buffer), None
        buffer, size, in_quotes = [], 0, False
    if buffer:
        reason = f"a quoted cell opened on line {start} is never closed (the file ends first)"
        yield start, "".join(buffer)[:REJECT_EXCERPT_CHARS], reason


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
