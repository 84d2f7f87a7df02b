"""Catalog readers: stream records with their line or row numbers, in constant memory.

Every reader yields ``SourceRecord``s and never aborts a file for one bad record; only a file that
cannot be opened at all raises ``CatalogError``. ``read_records`` picks the reader by suffix.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from search.errors import CatalogError

MAX_LINE_BYTES = 2_000_000  # a line past this is rejected unread rather than parsed
PARQUET_BATCH_ROWS = 2_048

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
CSV_SUFFIXES = (".csv", ".tsv")
PARQUET_SUFFIXES = (".parquet", ".pq")


@dataclass(frozen=True)
class SourceRecord:
    """One record as read: where it starts, its original form, the parsed object or the error.

    ``raw`` is the original line for JSON Lines and the row as an object for CSV and Parquet.
    """

    line_no: int
    raw: str | dict[str, Any]
    data: dict[str, Any] | None
    error: str | None = None


def read_records(path: Path) -> Iterator[SourceRecord]:
    """Stream a catalog file of any supported format, chosen by its suffix."""
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        return read_jsonl(path)
    if suffix in CSV_SUFFIXES:
        return read_csv(path, delimiter="\t" if suffix == ".tsv" else ",")
    if suffix in PARQUET_SUFFIXES:
        return read_parquet(path)
    supported = ", ".join(JSONL_SUFFIXES + CSV_SUFFIXES + PARQUET_SUFFIXES)
    raise CatalogError(f"{path}: unsupported catalog format {suffix!r}; use one of {supported}")


def _open_binary(path: Path) -> io.BufferedReader:
    try:
        return path.open("rb")
    except OSError as exc:
        raise CatalogError(f"cannot open catalog file {path}: {exc.strerror}") from exc


def read_jsonl(path: Path) -> Iterator[SourceRecord]:
    """Yield every non-blank line of a JSON Lines file as a SourceRecord (1-based line numbers)."""
    handle = _open_binary(path)
    with handle:
        for line_no, line in enumerate(handle, start=1):
            if len(line) > MAX_LINE_BYTES:
                yield SourceRecord(
                    line_no, "", None, f"line is {len(line)} bytes, over the {MAX_LINE_BYTES} limit"
                )
                continue
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                raw = line.decode("utf-8", "replace").strip()
                yield SourceRecord(line_no, raw, None, f"not valid UTF-8 at byte {exc.start}")
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


def read_csv(path: Path, *, delimiter: str = ",") -> Iterator[SourceRecord]:
    """Yield every data row of a CSV file with a header row, numbered by the file line it starts on.

    The header is line 1. A quoted field may span lines; the record then reports its first line.
    Empty cells are left out of the record, so they read as absent rather than as "".
    """
    handle = _open_binary(path)
    with handle, io.TextIOWrapper(handle, encoding="utf-8-sig", newline="") as text:
        reader = csv.reader(text, delimiter=delimiter, strict=True)
        try:
            header = next(reader)
        except StopIteration:
            return
        except (csv.Error, UnicodeDecodeError) as exc:
            raise CatalogError(f"{path}: cannot read the CSV header row: {exc}") from exc
        columns = [name.strip() for name in header]
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except (csv.Error, UnicodeDecodeError) as exc:
                # csv cannot resynchronise after a broken quote; the rest of the file is unusable.
                yield SourceRecord(start, "", None, f"unreadable CSV from here on: {exc}")
                return
            if not any(cell.strip() for cell in row):
                continue
            raw = dict(zip(columns, row, strict=False))
            if len(row) != len(columns):
                yield SourceRecord(
                    start, raw, None, f"row has {len(row)} cells, the header has {len(columns)}"
                )
                continue
            yield SourceRecord(start, raw, {k: v for k, v in raw.items() if v.strip()})


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
