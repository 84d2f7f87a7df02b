"""Catalog readers: stream records with their line or row numbers, in constant memory.

Every reader yields ``SourceRecord``s and never aborts a file for one bad record: a record that
cannot be decoded, is over a size limit, or has the wrong number of cells is yielded with its
error and its first physical line, and reading goes on with the next one. Only a file that cannot
be opened at all (or a CSV whose header cannot be read) raises ``CatalogError``.
``read_records`` picks the reader by suffix; ``catalog.dialect`` says how the file is written.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from catalog.delimited import read_csv
from catalog.dialect import (
    ReadOptions,
    ascii_compatible,
    resolve_options,
)
from catalog.errors import CatalogError
from catalog.limits import DEFAULT_LIMITS, REJECT_EXCERPT_CHARS, RecordLimits, too_deep, too_wide
from catalog.parquet import read_parquet
from catalog.source import (
    ENCODING_HINT,
    SourceRecord,
    bounded_lines,
    codec_label,
    open_binary,
)

__all__ = [
    "SourceRecord",
    "bounded_lines",
    "read_csv",
    "read_jsonl",
    "read_parquet",
    "read_records",
]

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
CSV_SUFFIXES = (".csv", ".tsv")
PARQUET_SUFFIXES = (".parquet", ".pq")


def is_csv(path: Path) -> bool:
    """Whether ``path`` is read as CSV (by suffix)."""
    return path.suffix.lower() in CSV_SUFFIXES


def read_records(
    path: Path, options: ReadOptions | None = None, limits: RecordLimits = DEFAULT_LIMITS
) -> Iterator[SourceRecord]:
    """Stream a catalog file of any supported format, chosen by its suffix.

    ``options`` as resolved by ``catalog.dialect.resolve_options`` (unresolved ones are resolved
    here, which sniffs the file); a record over ``limits`` is yielded with its error.
    """
    suffix = path.suffix.lower()
    options = options or ReadOptions()
    if suffix in JSONL_SUFFIXES:
        return read_jsonl(path, encoding=options.encoding, limits=limits)
    if suffix in CSV_SUFFIXES:
        return read_csv(path, delimiter=options.delimiter, encoding=options.encoding, limits=limits)
    if suffix in PARQUET_SUFFIXES:
        return read_parquet(path, limits)
    supported = ", ".join(JSONL_SUFFIXES + CSV_SUFFIXES + PARQUET_SUFFIXES)
    raise CatalogError(f"{path}: unsupported catalog format {suffix!r}; use one of {supported}")


def read_jsonl(
    path: Path, *, encoding: str | None = None, limits: RecordLimits = DEFAULT_LIMITS
) -> Iterator[SourceRecord]:
    """Yield every non-blank line of a JSON Lines file as a SourceRecord (1-based line numbers).

    Each line is decoded on its own (UTF-8 unless ``encoding``), so a byte that does not decode
    rejects its line only. A line over ``limits.max_line_bytes`` is never held whole, one nested
    deeper than ``limits.max_depth`` never reaches the parser, and a parsed one too wide
    (``catalog.limits.too_wide``) is rejected.
    """
    encoding = resolve_options(path, ReadOptions(encoding), csv_file=False).encoding or "utf-8"
    if not ascii_compatible(encoding):
        raise CatalogError(
            f"{path}: JSON Lines cannot be read as {encoding} (line breaks are not single "
            "bytes); convert the file to UTF-8, as JSON Lines requires"
        )
    handle = open_binary(path)
    with handle:
        lines = bounded_lines(handle.readline, limits.max_line_bytes, (b"\n",))
        yield from _jsonl_records(lines, encoding, limits)


def _jsonl_records(
    lines: Iterable[tuple[bytes, int, bool]], encoding: str, limits: RecordLimits
) -> Iterator[SourceRecord]:
    for line_no, (line, length, whole) in enumerate(lines, start=1):
        if not whole:
            start = line[:REJECT_EXCERPT_CHARS].decode(encoding, "replace")
            reason = limits.over("max_line_bytes", f"line is {length:,} bytes")
            yield SourceRecord(line_no, start, None, reason, length)
            continue
        try:
            text = line.decode(encoding)
        except UnicodeDecodeError as exc:
            raw = line.decode(encoding, "replace").strip()
            error = (
                f"not valid {codec_label(encoding)} at byte {exc.start} "
                f"(0x{line[exc.start]:02x}); {ENCODING_HINT}"
            )
            yield SourceRecord(line_no, raw, None, error, length)
            continue
        text = text.strip().lstrip("\ufeff")
        if not text:
            continue
        deep = too_deep(line, limits)
        if deep is not None:
            yield SourceRecord(line_no, text, None, deep, length)
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            yield SourceRecord(
                line_no, text, None, f"not valid JSON: {exc.msg} at column {exc.colno}", length
            )
            continue
        except (ValueError, RecursionError) as exc:  # e.g. an integer of over 4,300 digits
            yield SourceRecord(line_no, text, None, f"not valid JSON: {exc}", length)
            continue
        if not isinstance(data, dict):
            yield SourceRecord(line_no, text, None, "not a JSON object", length)
            continue
        wide = too_wide(data, limits)
        yield SourceRecord(line_no, text, None if wide else data, wide, length)
