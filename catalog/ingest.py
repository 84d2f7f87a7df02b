"""Bulk ingestion: read, validate, index in chunks; every bad record rejected with its line."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

from pydantic import ValidationError

from catalog.product import Product, describe_validation_error
from catalog.readers import SourceRecord, read_jsonl
from search.errors import CatalogError

if TYPE_CHECKING:
    from search.recall import Recall

SAMPLE_REJECTS_KEPT = 100  # the report keeps this many for display; the rejects file has all


@dataclass(frozen=True)
class Reject:
    """A record that was not indexed, and why."""

    line_no: int
    reason: str
    raw: str


@dataclass
class IngestReport:
    """What an ingest did."""

    source: str
    read: int = 0
    indexed: int = 0
    rejected: int = 0
    seconds: float = 0.0
    rejects: list[Reject] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """The report as plain JSON-ready data."""
        return {
            "source": self.source,
            "read": self.read,
            "indexed": self.indexed,
            "rejected": self.rejected,
            "seconds": round(self.seconds, 3),
            "rejects": [{"line": r.line_no, "reason": r.reason} for r in self.rejects],
        }


Progress = Callable[[IngestReport], None]


def validate(records: Iterable[SourceRecord]) -> Iterator[Product | Reject]:
    """Turn source records into products, or rejects naming the line and the bad fields."""
    for record in records:
        if record.data is None:
            yield Reject(record.line_no, record.error or "unreadable record", record.raw)
            continue
        try:
            yield Product.model_validate(record.data)
        except ValidationError as exc:
            yield Reject(record.line_no, describe_validation_error(exc), record.raw)


def ingest_file(
    path: Path,
    recall: Recall,
    *,
    chunk_size: int = 500,
    rejects_out: IO[str] | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Index every valid product of a JSONL catalog; a bad line never stops the good ones."""
    if path.suffix.lower() not in {".jsonl", ".ndjson", ".json"}:
        raise CatalogError(f"{path}: unsupported catalog format; expected JSON Lines (.jsonl)")
    report = IngestReport(source=str(path))
    started = time.perf_counter()
    chunk: list[Product] = []

    def flush() -> None:
        if chunk:
            report.indexed += recall.index(chunk)
            chunk.clear()
        report.seconds = time.perf_counter() - started
        if progress:
            progress(report)

    for item in validate(read_jsonl(path)):
        report.read += 1
        if isinstance(item, Reject):
            report.rejected += 1
            if len(report.rejects) < SAMPLE_REJECTS_KEPT:
                report.rejects.append(item)
            if rejects_out is not None:
                line = {"line": item.line_no, "reason": item.reason, "record": item.raw}
                rejects_out.write(json.dumps(line, ensure_ascii=False) + "\n")
            continue
        chunk.append(item)
        if len(chunk) >= chunk_size:
            flush()
    flush()
    return report
