"""Bulk ingestion: read, validate, enrich, skip the unchanged, index in chunks.

One pipeline serves the CLI and the Celery task: ``ingest_chunk`` takes one chunk of source
records and a ``Recall`` and returns that chunk's counts and rejects; ``ingest_file`` streams a
file through it chunk by chunk, so memory does not grow with the catalog. What both backends
share (hash comparison, counts, rejects) lives here, above the seam.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from catalog.enrich import Reject, to_product
from catalog.mapping import IDENTITY, FieldMapping
from catalog.product import Product
from catalog.readers import SourceRecord, read_records
from catalog.text import content_hash
from catalog.variants import ProductRows
from search.errors import CatalogError

if TYPE_CHECKING:
    from search.recall import Recall

SAMPLE_REJECTS_KEPT = 100  # the report keeps this many for display; the rejects file has all
DEFAULT_CHUNK_SIZE = 2_000

__all__ = [
    "ChunkResult",
    "IngestReport",
    "Reject",
    "chunked",
    "ingest_chunk",
    "ingest_file",
    "validate",
    "write_rejects",
]


COUNTS = ("read", "indexed", "updated", "unchanged")  # what a chunk reports and a file sums


@dataclass
class ChunkResult:
    """What ingesting one chunk did. ``indexed`` counts new ids, ``updated`` changed ones."""

    read: int = 0
    indexed: int = 0
    updated: int = 0
    unchanged: int = 0
    rejects: list[Reject] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        """Records of the chunk that were rejected."""
        return len(self.rejects)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready counts and rejects (what a Celery task returns)."""
        return {
            **{name: getattr(self, name) for name in COUNTS},
            "rejected": self.rejected,
            "rejects": [{"line": r.line_no, "reason": r.reason, "record": r.raw}
                        for r in self.rejects],
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChunkResult:
        """The inverse of ``as_dict`` (how a Celery task's result comes back)."""
        return cls(
            **{name: data[name] for name in COUNTS},
            rejects=[Reject(r["line"], r["reason"], r["record"]) for r in data["rejects"]],
        )


@dataclass
class IngestReport:
    """What an ingest of one file did."""

    source: str
    full: bool = False
    read: int = 0
    indexed: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    deleted: int = 0
    seconds: float = 0.0
    rejects: list[Reject] = field(default_factory=list)
    # Products the mapping's ``skip`` rules left out (Shopify drafts), by reason; not rejects.
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def stored(self) -> int:
        """Valid products now in the catalog from this file: new, updated or unchanged."""
        return self.indexed + self.updated + self.unchanged

    def add(self, chunk: ChunkResult) -> None:
        """Fold one chunk's counts into the report, keeping a sample of rejects."""
        for name in COUNTS:
            setattr(self, name, getattr(self, name) + getattr(chunk, name))
        self.rejected += chunk.rejected
        room = SAMPLE_REJECTS_KEPT - len(self.rejects)
        self.rejects.extend(chunk.rejects[: max(room, 0)])

    def as_dict(self) -> dict[str, object]:
        """The report as plain JSON-ready data."""
        return {
            "source": self.source,
            "full": self.full,
            **{name: getattr(self, name) for name in COUNTS},
            "rejected": self.rejected,
            "deleted": self.deleted,
            "skipped": dict(self.skipped),
            "seconds": round(self.seconds, 3),
            "rejects": [{"line": r.line_no, "reason": r.reason} for r in self.rejects],
        }


Progress = Callable[[IngestReport], None]
ChunkRunner = Callable[[Iterator[list[SourceRecord]]], Iterator["ChunkResult"]]


def validate(
    records: Iterable[SourceRecord], mapping: FieldMapping = IDENTITY
) -> Iterator[Product | Reject]:
    """Turn source records into products, or rejects naming the line and the bad fields."""
    for record in records:
        yield to_product(record, mapping)


def chunked(records: Iterable[SourceRecord], size: int) -> Iterator[list[SourceRecord]]:
    """Cut a record stream into lists of at most ``size`` records, lazily."""
    iterator = iter(records)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def ingest_chunk(
    records: Sequence[SourceRecord],
    recall: Recall,
    *,
    mapping: FieldMapping = IDENTITY,
    full: bool = False,
) -> ChunkResult:
    """Validate and enrich one chunk, index what is new or changed, reject the rest.

    Unchanged products (same content hash as stored) are not written, except during a full
    reload (``full=True``), where the new catalog starts empty and so needs every product; they
    are still counted as unchanged. Idempotent: running a chunk twice leaves the same index.
    """
    result = ChunkResult(read=len(records))
    products: list[Product] = []
    sources: dict[str, SourceRecord] = {}
    for record in records:
        item = to_product(record, mapping)
        if isinstance(item, Reject):
            result.rejects.append(item)
        else:
            products.append(item)
            sources[item.id] = record
    stored = recall.content_hashes([p.id for p in products]) if products else {}
    to_write: list[Product] = []
    outcomes: list[tuple[str, str]] = []  # (product id, "indexed" | "updated" | "unchanged")
    for product in products:
        old = stored.get(product.id)
        unchanged = old is not None and old == content_hash(product)
        outcomes.append((product.id, "unchanged" if unchanged else "updated" if old else "indexed"))
        if full or not unchanged:
            to_write.append(product)
    failed: set[str] = set()
    for failure in recall.index(to_write):
        source = sources[failure.product_id]
        reason = f"rejected by the index: {failure.reason}"
        result.rejects.append(Reject(source.line_no, reason, source.raw))
        failed.add(failure.product_id)
    # Counted once the index has answered, so a refused product counts only as a reject.
    for product_id, outcome in outcomes:
        if product_id not in failed:
            setattr(result, outcome, getattr(result, outcome) + 1)
    return result


def write_rejects(rejects: Iterable[Reject], out: IO[str]) -> None:
    """Append rejects as JSON Lines: ``{"line", "reason", "record"}`` with the original record."""
    for reject in rejects:
        line = {"line": reject.line_no, "reason": reject.reason, "record": reject.raw}
        out.write(json.dumps(line, ensure_ascii=False, default=str) + "\n")


def ingest_file(
    path: Path,
    recall: Recall,
    *,
    mapping: FieldMapping = IDENTITY,
    full: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    rejects_out: IO[str] | None = None,
    progress: Progress | None = None,
    run_chunks: ChunkRunner | None = None,
) -> IngestReport:
    """Index every valid product of a catalog file; a bad record never stops the good ones.

    With ``full``, the file replaces the whole catalog: products it lacks are deleted, and
    searches see the old catalog until the new one is complete. An interrupted full load leaves
    the old catalog as it was. ``run_chunks`` runs the chunks elsewhere (Celery workers) through
    the same ``ingest_chunk``; without it they run here.
    """
    if run_chunks is not None and full:
        raise CatalogError("a full reload runs in one process: drop --celery or --full")
    # Read, then fold each product's rows into one record and leave out skipped products.
    records = ProductRows(read_records(path), mapping)  # refuses an unsupported format first
    report = IngestReport(source=str(path), full=full)
    started = time.perf_counter()
    live_before = recall.count() if full else 0
    if full:
        recall.begin_full()
    try:
        chunks = chunked(records, chunk_size)
        if run_chunks is not None:
            results = run_chunks(chunks)
        else:
            results = (ingest_chunk(c, recall, mapping=mapping, full=full) for c in chunks)
        for result in results:
            report.add(result)
            report.skipped = dict(sorted(records.skipped.items()))
            if rejects_out is not None:
                write_rejects(result.rejects, rejects_out)
            report.seconds = time.perf_counter() - started
            if progress:
                progress(report)
        if full and report.stored == 0:
            raise CatalogError(
                f"{path} has no valid product, and --full would have emptied the catalog: "
                "nothing was changed; fix the file (see the rejects) and run again"
            )
    except BaseException:
        if full:
            recall.abort_full()
        raise
    report.skipped = dict(sorted(records.skipped.items()))
    if full:
        recall.commit_full()
        # Every live product is either in the file (updated or unchanged) or now deleted.
        report.deleted = max(live_before - report.updated - report.unchanged, 0)
    report.seconds = time.perf_counter() - started
    return report
