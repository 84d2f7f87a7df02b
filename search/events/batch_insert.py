"""Batch inserts where one bad row never costs the rest of the batch.

Impressions of many shoppers are written together, and so are the events of one storefront
batch. A row the store cannot take (NUL in text, which PostgreSQL refuses; a lone surrogate, which
no driver can encode; a value longer than its column, which PostgreSQL refuses and SQLite would
silently keep) used to fail the whole statement. Now:

1. every row is checked first against its table (``row_problem``): the same rule on both engines;
2. what passes is inserted in pages; a page the store still refuses for its data is split in
   halves until the bad row is alone, so every other row is stored and only that one dropped.

Dropped rows are returned with their reasons, counted in ``shelf_event_store_rows_rejected_total``
and logged. A store that is down (connection or timeout errors) is not a row's fault: that error
is raised as before, with nothing split.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from search.metrics import STORE_ROWS_REJECTED

log = logging.getLogger(__name__)

ROWS_PER_INSERT = 500  # SQLite caps bound parameters per statement
# Errors that blame the data sent, not the store: worth splitting the batch to find the row.
_ROW_ERRORS = (sa.exc.DataError, sa.exc.IntegrityError, ValueError, TypeError)


@dataclass
class InsertOutcome:
    """What a batch insert did: rows newly written (duplicates skipped), and the rows dropped
    as ``(index in the batch, reason)``, in batch order."""

    written: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)


def text_problem(value: str) -> str | None:
    """Why a store cannot keep ``value`` (NUL, a lone surrogate), or None."""
    if value.isprintable():
        return None
    if "\x00" in value:
        return "holds a NUL character"
    for ch in value:
        if "\ud800" <= ch <= "\udfff":
            return f"holds a lone surrogate U+{ord(ch):04X}"
    return None


def row_problem(table: sa.Table, row: dict[str, Any]) -> str | None:
    """Why ``table`` cannot take ``row`` (a missing required value, text too long for its
    column, text no store can keep), or None. JSON columns are checked string by string."""
    for column in table.columns:
        value = row.get(column.name)
        if value is None:
            if not column.nullable and column.default is None:
                return f"{column.name} is missing"
            continue
        strings = value if isinstance(value, list | tuple) else [value]
        for item in strings:
            if not isinstance(item, str):
                continue
            problem = text_problem(item)
            if problem is not None:
                return f"{column.name} {problem}"
            length = getattr(column.type, "length", None)
            if length is not None and len(item) > length:
                return f"{column.name} is {len(item)} characters; the column holds {length}"
    return None


def insert_rows(
    engine: sa.Engine, statement: Any, rows: Sequence[dict[str, Any]], *, table_label: str
) -> InsertOutcome:
    """Insert ``rows`` with ``statement`` (an INSERT ... ON CONFLICT DO NOTHING RETURNING key),
    checking each first and splitting a page the store refuses; see the module docstring.
    ``table_label`` names the table in the metric and logs."""
    outcome = InsertOutcome()
    table: sa.Table = statement.table
    good: list[tuple[int, dict[str, Any]]] = []
    for index, row in enumerate(rows):
        problem = row_problem(table, row)
        if problem is None:
            good.append((index, row))
        else:
            outcome.rejected.append((index, problem))
    for start in range(0, len(good), ROWS_PER_INSERT):
        _insert_page(engine, statement, good[start : start + ROWS_PER_INSERT], outcome)
    if outcome.rejected:
        outcome.rejected.sort()
        STORE_ROWS_REJECTED.labels(table=table_label).inc(len(outcome.rejected))
        log.warning(
            "rows dropped, the rest of the batch stored",
            extra={
                "table": table_label,
                "dropped": len(outcome.rejected),
                "first_reason": outcome.rejected[0][1],
            },
        )
    return outcome


def _insert_page(
    engine: sa.Engine,
    statement: Any,
    page: list[tuple[int, dict[str, Any]]],
    outcome: InsertOutcome,
) -> None:
    """Insert ``page`` in one transaction; when the store refuses its data, insert each half."""
    try:
        with engine.begin() as conn:
            outcome.written += len(conn.execute(statement, [row for _, row in page]).all())
    except _ROW_ERRORS as exc:
        if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
            raise
        if len(page) == 1:
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0][:200]
            outcome.rejected.append((page[0][0], f"the store refused it: {reason}"))
            return
        middle = len(page) // 2
        _insert_page(engine, statement, page[:middle], outcome)
        _insert_page(engine, statement, page[middle:], outcome)
