"""Duplicate ids within one catalog file: the last row of an id wins.

``last_lines`` is the first pass over a file: it keeps only ``id -> line of its last record``
(memory grows with the number of ids, never with the records). ``latest_only`` is the second:
it passes on each id's last record and collects the earlier ones as ``Superseded``, so the winner
does not depend on chunk boundaries or on which worker runs a chunk.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from catalog.limits import excerpt
from catalog.mapping import IDENTITY, FieldMapping
from catalog.readers import SourceRecord


@dataclass(frozen=True)
class Superseded:
    """An earlier row of an id that a later row of the same file replaces (the last row wins)."""

    line_no: int
    product_id: str
    by_line: int
    raw: str | dict[str, Any]

    def __post_init__(self) -> None:
        object.__setattr__(self, "raw", excerpt(self.raw))  # what a rejects file keeps

    @property
    def reason(self) -> str:
        """Why the row was not indexed."""
        return (
            f"duplicate id {self.product_id!r}: superseded by line {self.by_line} "
            "(the last row for an id wins)"
        )


def _record_id(record: SourceRecord, mapping: FieldMapping) -> str | None:
    if record.data is None:
        return None
    fields = mapping.apply(record.data) if mapping is not IDENTITY else record.data
    value = fields.get("id")
    return value.strip() if isinstance(value, str) and value.strip() else None


def last_lines(records: Iterable[SourceRecord], mapping: FieldMapping = IDENTITY) -> dict[str, int]:
    """``id -> line of its last record`` for every id the records carry (the first pass)."""
    last: dict[str, int] = {}
    for record in records:
        product_id = _record_id(record, mapping)
        if product_id is not None:
            last[product_id] = record.line_no
    return last


def latest_only(
    records: Iterable[SourceRecord],
    last: dict[str, int],
    mapping: FieldMapping,
    superseded: list[Superseded],
) -> Iterator[SourceRecord]:
    """The records that are the last of their id (or carry none); the rest go to ``superseded``."""
    for record in records:
        product_id = _record_id(record, mapping)
        by_line = last.get(product_id, record.line_no) if product_id else record.line_no
        if by_line != record.line_no:
            superseded.append(Superseded(record.line_no, product_id or "", by_line, record.raw))
        else:
            yield record
