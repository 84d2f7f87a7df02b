"""Products spread over several rows, folded into one record; products not for sale, skipped.

Shopify's products CSV has one row per variant: the first row of a ``Handle`` carries the
product (title, description, vendor, status) and its first variant, and each following row of
the same handle (empty ``Title``) carries one more variant or image. ``ProductRows`` sits between
a reader and validation and, following the mapping's ``group_by``, ``variant_columns`` and
``skip`` (``catalog.mapping``):

- joins consecutive rows with the same ``group_by`` value into one record: the first row's
  columns, and for each variant column the list of every row's non-empty value (the mapping
  folds that list: lowest price and ``price_max``, every SKU). Rows of one product are
  consecutive in such exports, so only one product's rows are held at a time;
- keeps every row's line: a folded record's ``raw`` is ``{"lines": [...], "rows": [...]}``, and
  a rejected product's reason names them (``row_lines``);
- passes an unreadable row on as its own reject without ending the product around it;
- skips a product whose first row has a ``skip`` value (``Status`` draft or archived,
  ``Published`` false), counting it by reason in ``skipped`` instead of yielding it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from catalog.mapping import FieldMapping
from catalog.readers import SourceRecord

# A product with more rows than this is cut there: its further rows are rejected one by one, so a
# mapping grouping by the wrong column cannot hold a whole file in memory.
MAX_PRODUCT_ROWS = 5_000
MAX_PRODUCT_BYTES = 16_000_000  # nor more than this of the file (the rows' ``size``)


class ProductRows:
    """The records of a file with each product's rows folded into one; iterate it once.

    ``skipped`` counts the products left out by the mapping's ``skip`` rules, by reason
    (``"Status is draft"``), as far as the iteration has got.
    """

    def __init__(
        self,
        records: Iterable[SourceRecord],
        mapping: FieldMapping,
        *,
        max_rows: int = MAX_PRODUCT_ROWS,
        max_bytes: int = MAX_PRODUCT_BYTES,
    ) -> None:
        self._records = records
        self._mapping = mapping
        self._max_rows = max_rows
        self._max_bytes = max_bytes
        self._skip = {
            column: {value.strip().lower() for value in values}
            for column, values in mapping.skip.items()
        }
        self.skipped: Counter[str] = Counter()

    def __iter__(self) -> Iterator[SourceRecord]:
        group_by = self._mapping.group_by
        if group_by is None and not self._skip:
            yield from self._records  # nothing to fold or skip: records pass as they are
            return
        rows: list[SourceRecord] = []
        key: str | None = None
        held = 0  # bytes of the file the held rows took
        for record in self._records:
            if record.data is None:
                yield record  # its own reject; the product around it goes on
                continue
            value = record.data.get(group_by) if group_by else None
            row_key = str(value).strip() if value is not None else None
            if rows and row_key is not None and row_key == key:
                if len(rows) < self._max_rows and held + record.size <= self._max_bytes:
                    rows.append(record)
                    held += record.size
                else:
                    too_many = (
                        f"more than {self._max_rows} rows" if len(rows) >= self._max_rows else
                        f"rows of more than {self._max_bytes:,} bytes"
                    )  # fmt: skip
                    yield SourceRecord(
                        record.line_no, record.raw, None,
                        f"{group_by} {key!r} has {too_many}; is group_by the column that "
                        "names a product?", record.size,
                    )  # fmt: skip
                continue
            if rows:
                yield from self._product(rows)
            rows, key, held = [record], row_key, record.size
        if rows:
            yield from self._product(rows)

    def _product(self, rows: list[SourceRecord]) -> Iterator[SourceRecord]:
        first = rows[0]
        assert first.data is not None
        reason = self._skip_reason(first.data)
        if reason is not None:
            self.skipped[reason] += 1
            return
        columns = self._mapping.variant_columns
        if len(rows) == 1 and not columns:
            yield first
            return
        data = dict(first.data)
        for column in columns:
            values = [row.data[column] for row in rows if row.data and column in row.data]
            data.pop(column, None)
            if values:
                data[column] = values
        raw: str | dict[str, Any] = first.raw
        if len(rows) > 1:
            raw = {"lines": [row.line_no for row in rows], "rows": [row.raw for row in rows]}
        yield SourceRecord(first.line_no, raw, data, None, sum(row.size for row in rows))

    def _skip_reason(self, data: dict[str, Any]) -> str | None:
        for column, values in self._skip.items():
            value = data.get(column)
            if value is not None and str(value).strip().lower() in values:
                return f"{column} is {str(value).strip().lower()}"
        return None


def row_lines(raw: object) -> list[int] | None:
    """The lines of a product folded from several rows (``ProductRows``), else None."""
    if isinstance(raw, dict) and set(raw) == {"lines", "rows"} and isinstance(raw["lines"], list):
        return [line for line in raw["lines"] if isinstance(line, int)]
    return None
