"""Catalog readers: stream records with their line numbers, in constant memory."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from search.errors import CatalogError

MAX_LINE_BYTES = 2_000_000  # a line past this is rejected unread rather than parsed


@dataclass(frozen=True)
class SourceRecord:
    """One record as read: its line number, the parsed object or why it could not be parsed."""

    line_no: int
    raw: str
    data: dict[str, Any] | None
    error: str | None = None


def read_jsonl(path: Path) -> Iterator[SourceRecord]:
    """Yield every non-blank line of a JSON Lines file as a SourceRecord (1-based line numbers)."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise CatalogError(f"cannot open catalog file {path}: {exc.strerror}") from exc
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
