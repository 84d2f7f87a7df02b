"""Bulk ingestion: read, validate, enrich, skip the unchanged, index in chunks.

One pipeline serves the CLI and the Celery task: ``ingest_chunk`` takes one chunk of source
records and a ``Recall`` and returns that chunk's counts and rejects; ``ingest_file`` streams a
file through it chunk by chunk, so memory does not grow with the catalog. What both backends
share (hash comparison, counts, rejects) lives here, above the seam.

An id that appears more than once in a file is resolved before any chunk is built
(``catalog.duplicates``): only each id's last row is sent, and the earlier rows go to the
rejects file marked ``superseded_by``.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, Protocol

from catalog.dialect import ReadOptions, resolve_options
from catalog.disk_full import disk_full_error, is_disk_full
from catalog.duplicates import Superseded, last_lines, latest_only
from catalog.enrich import Reject, to_product
from catalog.errors import CatalogError
from catalog.ingest_report import ChunkResult, IngestReport
from catalog.limits import DEFAULT_LIMITS, RecordLimits
from catalog.mapping import IDENTITY, FieldMapping, decimal_comma_hint
from catalog.product import Product
from catalog.readers import CSV_SUFFIXES, JSONL_SUFFIXES, SourceRecord, read_records
from catalog.text import content_hash
from catalog.variants import ProductRows


class IndexRefusal(Protocol):
    """A product the index refused, and why (``search.recall.IndexFailure`` is one)."""

    @property
    def product_id(self) -> str: ...

    @property
    def reason(self) -> str: ...


class IngestTarget(Protocol):
    """What bulk ingest needs of an index: the part of the ``Recall`` seam it calls.

    Declared here, not imported from ``search.recall``, because the catalog is the lowest layer
    and imports nothing of ``search``; every ``Recall`` satisfies it structurally (mypy checks
    that where the CLI and the Celery task pass one in).
    """

    def content_hashes(self, product_ids: Sequence[str]) -> dict[str, str]:
        """The stored content hash of each of ``product_ids`` that is indexed."""
        ...

    def index(self, products: Sequence[Product]) -> Sequence[IndexRefusal]:
        """Add or replace ``products``; the ones the backend refused, with its reason."""
        ...

    def begin_full(self) -> None:
        """Start a full reload, built out of sight until ``commit_full``."""
        ...

    def commit_full(self) -> None:
        """Make the full reload live in one step, dropping every product it did not write."""
        ...

    def abort_full(self) -> None:
        """Throw the full reload away; the catalog that was live stays live."""
        ...

    def count(self) -> int:
        """How many products are live."""
        ...


DEFAULT_CHUNK_SIZE = 2_000
CHUNK_BYTES = 16_000_000  # a chunk ends early once its records took this much of the file

__all__ = [
    "ChunkResult",
    "IndexRefusal",
    "IngestReport",
    "IngestTarget",
    "Reject",
    "Superseded",
    "chunked",
    "ingest_chunk",
    "ingest_file",
    "validate",
    "write_rejects",
]


Progress = Callable[[IngestReport], None]
ChunkRunner = Callable[[Iterator[list[SourceRecord]]], Iterator["ChunkResult"]]


def validate(
    records: Iterable[SourceRecord], mapping: FieldMapping = IDENTITY
) -> Iterator[Product | Reject]:
    """Turn source records into products, or rejects naming the line and the bad fields."""
    for record in records:
        yield to_product(record, mapping)


def chunked(
    records: Iterable[SourceRecord], size: int, max_bytes: int | None = None
) -> Iterator[list[SourceRecord]]:
    """Cut a record stream into lists of at most ``size`` records, lazily; with ``max_bytes``, a
    list also ends once its records' ``size`` (what they took in the file) reaches it."""
    chunk: list[SourceRecord] = []
    held = 0
    for record in records:
        chunk.append(record)
        held += record.size
        if len(chunk) >= size or (max_bytes is not None and held >= max_bytes):
            yield chunk
            chunk, held = [], 0
    if chunk:
        yield chunk


def _noting_last_line(
    chunks: Iterable[list[SourceRecord]], lines: deque[int]
) -> Iterator[list[SourceRecord]]:
    for chunk in chunks:
        lines.append(max(record.line_no for record in chunk))
        yield chunk


def ingest_chunk(
    records: Sequence[SourceRecord],
    recall: IngestTarget,
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
            result.rejects.append(_with_hint(item, record, mapping))
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


def _with_hint(reject: Reject, record: SourceRecord, mapping: FieldMapping) -> Reject:
    """The reject, its reason led by what to do when a number has an unexpected decimal comma."""
    if record.data is None:
        return reject
    fields = mapping.apply(record.data) if mapping is not IDENTITY else record.data
    hint = decimal_comma_hint(fields)
    return Reject(reject.line_no, f"{hint}; {reject.reason}", reject.raw) if hint else reject


def write_rejects(rejects: Iterable[Reject | Superseded], out: IO[str]) -> None:
    """Append rejects as JSON Lines: ``{"line", "reason", "record"}`` with the original record.

    A row superseded by a later row of the same id also has ``"superseded_by": <that line>``.
    """
    for reject in rejects:
        line: dict[str, Any] = {"line": reject.line_no, "reason": reject.reason}
        if isinstance(reject, Superseded):
            line["superseded_by"] = reject.by_line
        line["record"] = reject.raw
        out.write(json.dumps(line, ensure_ascii=False, default=str) + "\n")


def resolve_read_options(path: Path, options: ReadOptions | None) -> ReadOptions:
    """The file's concrete encoding (and CSV delimiter): sniffed or detected once per file."""
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES or suffix in JSONL_SUFFIXES:
        return resolve_options(path, options or ReadOptions(), csv_file=suffix in CSV_SUFFIXES)
    return ReadOptions()


def ingest_file(
    path: Path,
    recall: IngestTarget,
    *,
    mapping: FieldMapping = IDENTITY,
    full: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    rejects_out: IO[str] | None = None,
    progress: Progress | None = None,
    run_chunks: ChunkRunner | None = None,
    read_options: ReadOptions | None = None,
    limits: RecordLimits = DEFAULT_LIMITS,
    index_dir: Path | None = None,
) -> IngestReport:
    """Index every valid product of a catalog file; a bad record never stops the good ones.

    With ``full``, the file replaces the whole catalog: products it lacks are deleted, and
    searches see the old catalog until the new one is complete. An interrupted full load leaves
    the old catalog as it was. ``run_chunks`` runs the chunks elsewhere (Celery workers) through
    the same ``ingest_chunk``; without it they run here. ``read_options`` give the encoding and
    CSV delimiter (default: UTF-8, sniffed); a record over ``limits`` is rejected alone. The file
    is read twice: once for the last line of each id (duplicates: the last row wins), once to
    ingest. A chunk holds at most ``chunk_size`` records and about ``CHUNK_BYTES`` of them.

    Raises ``DiskFull`` when the disk fills up (``index_dir``, where the index lives, is asked
    when the engine only says that an I/O error killed its writer), saying how many records, up
    to which line, were committed.
    """
    if run_chunks is not None and full:
        raise CatalogError("a full reload runs in one process: drop --celery or --full")
    read_records(path)  # refuses an unsupported format before anything else
    options = resolve_read_options(path, read_options)
    report = IngestReport(
        source=str(path), full=full, encoding=options.encoding, delimiter=options.delimiter
    )
    started = time.perf_counter()
    # Each pass folds a product's rows into one record (Shopify variants) and leaves out the
    # products the mapping skips, before duplicates are looked for.
    last = last_lines(ProductRows(read_records(path, options, limits), mapping), mapping)
    superseded: list[Superseded] = []
    products = ProductRows(read_records(path, options, limits), mapping)
    records = latest_only(products, last, mapping, superseded)
    live_before = recall.count() if full else 0
    if full:
        recall.begin_full()
    last_lines_sent: deque[int] = deque()  # the last line of each chunk sent and not yet done
    done_line = 0  # the last line of the chunks done: committed (but during --full)
    try:
        chunks = _noting_last_line(chunked(records, chunk_size, CHUNK_BYTES), last_lines_sent)
        if run_chunks is not None:
            results = run_chunks(chunks)
        else:
            results = (ingest_chunk(c, recall, mapping=mapping, full=full) for c in chunks)
        for result in results:
            report.add(result)
            # Superseded rows found while cutting this chunk (and any read ahead of it).
            replaced, superseded[:] = list(superseded), []
            report.add_superseded(replaced)
            done_line = last_lines_sent.popleft() if last_lines_sent else done_line
            if rejects_out is not None:
                rows: list[Reject | Superseded] = [*result.rejects, *replaced]
                write_rejects(sorted(rows, key=lambda row: row.line_no), rejects_out)
            report.seconds = time.perf_counter() - started
            if progress:
                progress(report)
        if full and report.stored == 0:
            raise CatalogError(
                f"{path} has no valid product, and --full would have emptied the catalog: "
                "nothing was changed; fix the file (see the rejects) and run again"
            )
        if full:
            recall.commit_full()
    except BaseException as exc:
        if full:
            recall.abort_full()
        if isinstance(exc, Exception) and is_disk_full(exc, index_dir):
            raise disk_full_error(path, report, done_line, exc) from exc
        raise
    report.skipped = dict(sorted(products.skipped.items()))
    if full:
        # Counted on the index itself: the live products before, plus the new ones, less those
        # live now, were deleted (a count from the file's rows would miscount its duplicates).
        report.deleted = max(live_before + report.indexed - recall.count(), 0)
    report.seconds = time.perf_counter() - started
    return report
