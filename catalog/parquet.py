"""Parquet catalogs: rows streamed a few at a time, each row's cost known before it is read out.

Parquet is compressed, and dictionary encoding stores a repeated value once, so 2 KB on disk can
be 400 MB in memory. Nothing is decoded on trust:

- a row group whose metadata says its rows average over ``max_record_bytes`` uncompressed is
  rejected row by row, unread;
- string and binary columns (nested ones too) are read as dictionaries, each distinct value
  once, so a batch costs about what the file stores; each row's size as Python would hold it is
  summed from its value lengths, and a row over ``max_record_bytes`` is rejected, naming its
  largest column, without being turned into Python objects;
- the rows that pass become Python objects at most ``ROWS_OUT_BYTES`` at a time, and are then
  checked for width (``catalog.limits.too_wide``) like a JSON line.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from catalog.errors import CatalogError
from catalog.limits import DEFAULT_LIMITS, RecordLimits, too_wide
from catalog.source import SourceRecord

if TYPE_CHECKING:
    import pyarrow as pa

PARQUET_BATCH_ROWS = 256
ROWS_OUT_BYTES = 4_000_000  # rows turned into Python objects at once (a larger row goes alone)


def read_parquet(path: Path, limits: RecordLimits = DEFAULT_LIMITS) -> Iterator[SourceRecord]:
    """Yield every row of a Parquet file (1-based row numbers) as a SourceRecord.

    A row group or a row over ``limits.max_record_bytes`` is yielded as a reject (its row
    numbers, sizes and largest column in the reason, ``raw`` naming the column unread); a file
    that cannot be opened, or has more than ``limits.max_keys`` columns, raises CatalogError.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        probe = pq.ParquetFile(path)
        schema = probe.schema
        text_columns = [
            schema.column(i).path
            for i in range(len(schema))
            if schema.column(i).physical_type == "BYTE_ARRAY"
        ]
        parquet = pq.ParquetFile(path, read_dictionary=text_columns)
    except (OSError, pa.ArrowException) as exc:
        raise CatalogError(f"cannot read Parquet catalog {path}: {exc}") from exc
    with probe, parquet:
        columns = len(parquet.schema_arrow)
        if columns > limits.max_keys:
            raise CatalogError(f"{path}: " + limits.over("max_keys", f"it has {columns:,} columns"))
        metadata = parquet.metadata
        first = 1
        for group in range(metadata.num_row_groups):
            rows = metadata.row_group(group).num_rows
            stored = metadata.row_group(group).total_byte_size
            if rows and stored / rows > limits.max_record_bytes:
                what = (
                    f"row group {group} (rows {first:,}-{first + rows - 1:,}) holds {stored:,} "
                    f"bytes uncompressed, {stored // rows:,} a row"
                )
                reason = limits.over("max_record_bytes", what)
                for row_no in range(first, first + rows):
                    yield SourceRecord(row_no, {}, None, reason, stored // rows)
            else:
                batches = parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS, row_groups=[group])
                row_no = first
                for batch in batches:
                    yield from _batch_records(batch, row_no, limits)
                    row_no += batch.num_rows
            first += rows


def _batch_records(
    batch: pa.RecordBatch, first: int, limits: RecordLimits
) -> Iterator[SourceRecord]:
    """The rows of one batch: the ones over the limit rejected unread, the rest read out."""
    names = batch.schema.names
    per_column = np.stack([row_bytes(column) for column in batch.columns]) if names else None
    costs = per_column.sum(axis=0) if per_column is not None else np.zeros(batch.num_rows)
    start = 0  # the first row not yet yielded
    for row in range(batch.num_rows + 1):
        over = row < batch.num_rows and costs[row] > limits.max_record_bytes
        pending = int(costs[start:row].sum())
        if start < row and (over or row == batch.num_rows or pending >= ROWS_OUT_BYTES):
            yield from _read_out(batch.slice(start, row - start), first + start, costs[start:row],
                                 limits)  # fmt: skip
            start = row
        if over:
            assert per_column is not None
            widest = names[int(per_column[:, row].argmax())]
            size, column = int(costs[row]), int(per_column[:, row].max())
            what = f"row {first + row:,} is {size:,} bytes when read ({widest!r}: {column:,})"
            raw = {widest: f"[{column:,} bytes, not read]"}
            reason = limits.over("max_record_bytes", what)
            yield SourceRecord(first + row, raw, None, reason, size)
            start = row + 1


def _read_out(
    rows: pa.RecordBatch, first: int, costs: np.ndarray, limits: RecordLimits
) -> Iterator[SourceRecord]:
    for offset, row in enumerate(rows.to_pylist()):
        error = too_wide(row, limits)
        data = None if error else {k: v for k, v in row.items() if v is not None}
        yield SourceRecord(first + offset, row, data, error, int(costs[offset]))


def row_bytes(array: Any) -> np.ndarray:
    """Bytes each row of an Arrow array would take as values (a dictionary's values counted once
    per row that uses them), without reading any value out: an int64 array of ``len(array)``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = array.type
    size = len(array)
    if size == 0:
        return np.zeros(0, dtype=np.int64)
    if pa.types.is_dictionary(kind):
        values = row_bytes(array.dictionary)
        indices = array.indices.fill_null(0).to_numpy(zero_copy_only=False)
        costs = values[indices] if len(values) else np.zeros(size, dtype=np.int64)
        return np.where(array.is_null().to_numpy(zero_copy_only=False), 0, costs)
    if pa.types.is_string(kind) or pa.types.is_binary(kind) or pa.types.is_large_string(kind) \
            or pa.types.is_large_binary(kind):  # fmt: skip
        return pc.binary_length(array).fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_map(kind):
        children = row_bytes(array.flatten())
        parents = pc.list_parent_indices(array).to_numpy(zero_copy_only=False)
        summed = np.bincount(parents, weights=children, minlength=size)
        return summed.astype(np.int64) + 8 * np.bincount(parents, minlength=size)
    if pa.types.is_struct(kind):
        costs = np.zeros(size, dtype=np.int64)
        for field in array.flatten():
            costs += row_bytes(field)
        return costs
    try:
        width = max(kind.bit_width // 8, 1)
    except ValueError:  # no fixed width (the null type): a value's Python object, about
        width = 8
    return np.full(size, width, dtype=np.int64)
