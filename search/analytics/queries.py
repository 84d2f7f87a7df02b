"""The analytics queries: per normalised query (top, zero-result, no-click, one query) and per
day, over the first pages of searches in a ``Window``.

What counts:
- A search is a first page (``page = 1``), like the A/B report; later pages and their events are
  left out. A zero-result search is one whose match set was empty (``result_count = 0``).
- A query is its ``query_key`` (``search.query.normalize.query_key``: the pipeline's normalisation,
  case-folded), stored when the search is written, so SQL can group by it. Rows stored before
  that column existed were given SQL's ``lower(query)`` when it was added (the same for ASCII
  text; SQLite folds nothing else).
- CTR and conversion are per search with results: the share of them with at least one click, or
  at least one purchase. The mean first-click position averages, over clicked searches, the
  1-based position of the first click (the rank of the first click, as in MRR's reciprocal).
- k-anonymity: a query is shown only when at least ``min_users`` witnesses sent it in the
  window: distinct client networks, or distinct shoppers of events joined to its searches,
  whichever is more (``search.events.evidence``; ``witnesses`` in each row). Never the user ids
  a public search carries, which anyone can invent. Queries can hold emails, names, order
  numbers: a rare query stays out of every report. ``users`` still reports distinct units (the
  user id, else the session id) as sent. Counts per day hold no query text and need no
  threshold.

SQLAlchemy Core only: SQLite and PostgreSQL run the same statements; rows are streamed
(``yield_per``, a server-side cursor on PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any, Literal

import sqlalchemy as sa

from search.analytics.window import Window
from search.events.evidence import clicking_shopper, witness_count
from search.events.tables import Tables

QueryList = Literal["top", "zero", "no-clicks"]
_ROWS_PER_FETCH = 500


@dataclass(frozen=True)
class QueryStats:
    """One query's (or one day's, with ``key`` the UTC date) numbers in a window."""

    key: str
    searches: int
    users: int
    witnesses: int
    zero_result_searches: int
    clicked_searches: int
    clicks: int
    converted_searches: int
    mean_first_click_position: float | None

    @property
    def searches_with_results(self) -> int:
        """Searches whose match set was not empty."""
        return self.searches - self.zero_result_searches

    @property
    def ctr(self) -> float | None:
        """Clicked searches over searches with results (None when there were none)."""
        with_results = self.searches_with_results
        return self.clicked_searches / with_results if with_results else None

    @property
    def conversion(self) -> float | None:
        """Searches with a purchase over searches with results (None when there were none)."""
        with_results = self.searches_with_results
        return self.converted_searches / with_results if with_results else None

    def as_dict(self, key_name: str = "query") -> dict[str, Any]:
        """The row as the API and ``--json`` give it."""
        row = asdict(self)
        row[key_name] = row.pop("key")
        row["searches_with_results"] = self.searches_with_results
        row["ctr"] = self.ctr
        row["conversion"] = self.conversion
        return row


def _window_filter(searches: sa.Table, window: Window) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = [searches.c.page == 1]
    if window.language is not None:
        conditions.append(searches.c.locale == window.language)
    if window.start is not None:
        conditions.append(searches.c.ts >= window.start)
    if window.end is not None:
        conditions.append(searches.c.ts < window.end)
    return conditions


def _per_search(
    tables: Tables, window: Window, key: sa.ColumnElement[Any], *extra: sa.ColumnElement[bool]
) -> sa.Subquery:
    """One row per search of the window: its key, unit, client network, result count, clicks,
    first click position, purchases and a shopper of its events (``clicking_shopper``; one is
    enough: a search's events name one shopper). The window's searches are found first (by
    ``ts``), then each one's events by the index on ``events.request_id``."""
    searches, events = tables.searches, tables.events
    is_click = events.c.type == "click"
    first_click = sa.case((is_click & (events.c.position >= 1), events.c.position))
    return (
        sa.select(
            key.label("key"),
            searches.c.unit_id,
            searches.c.client_network,
            sa.func.min(clicking_shopper(events)).label("shopper"),
            searches.c.result_count,
            sa.func.sum(sa.case((is_click, 1), else_=0)).label("clicks"),
            sa.func.min(first_click).label("first_click"),
            sa.func.sum(sa.case((events.c.type == "purchase", 1), else_=0)).label("purchases"),
        )
        .select_from(searches.outerjoin(events, events.c.request_id == searches.c.request_id))
        .where(*_window_filter(searches, window), *extra)
        .group_by(
            searches.c.request_id,
            key,
            searches.c.unit_id,
            searches.c.client_network,
            searches.c.result_count,
        )
        .subquery("per_search")
    )


def _stats_select(per_search: sa.Subquery) -> sa.Select:
    """Per key: searches, users, witnesses, zero-result searches, clicked searches, clicks,
    converted searches and the mean first click position."""
    row = per_search.c
    return sa.select(
        row.key,
        sa.func.count().label("searches"),
        sa.func.count(sa.distinct(row.unit_id)).label("users"),
        _witnesses(per_search).label("witnesses"),
        sa.func.sum(sa.case((row.result_count == 0, 1), else_=0)).label("zero"),
        sa.func.sum(sa.case((row.clicks > 0, 1), else_=0)).label("clicked"),
        sa.func.sum(row.clicks).label("clicks"),
        sa.func.sum(sa.case((row.purchases > 0, 1), else_=0)).label("converted"),
        sa.func.avg(row.first_click).label("first_click"),
    ).group_by(row.key)


def _witnesses(per_search: sa.Subquery) -> sa.ColumnElement[Any]:
    """What the k-anonymity threshold counts (``search.events.evidence``)."""
    return witness_count(per_search.c.client_network, per_search.c.shopper)


def query_stats_query(
    tables: Tables, window: Window, which: QueryList, min_users: int, limit: int
) -> sa.Select:
    """The ``limit`` queries sent by at least ``min_users`` witnesses, of a list: ``top`` (most
    searched), ``zero`` (most zero-result searches), ``no-clicks`` (searches with results but
    not one click, most such searches first). Ties by query text."""
    per_search = _per_search(tables, window, tables.searches.c.query_key)
    row = per_search.c
    zero = sa.func.sum(sa.case((row.result_count == 0, 1), else_=0))
    having: list[sa.ColumnElement[bool]] = [_witnesses(per_search) >= min_users]
    order: sa.ColumnElement[Any]
    if which == "top":
        order = sa.func.count().desc()
    elif which == "zero":
        having.append(zero > 0)
        order = zero.desc()
    else:
        with_results = sa.func.count() - zero
        having += [with_results > 0, sa.func.sum(row.clicks) == 0]
        order = with_results.desc()
    return _stats_select(per_search).having(*having).order_by(order, row.key).limit(limit)


def one_query_stats_query(tables: Tables, window: Window, key: str, min_users: int) -> sa.Select:
    """One query's row (by its ``query_key``), if at least ``min_users`` witnesses sent it."""
    column = tables.searches.c.query_key
    per_search = _per_search(tables, window, column, column == key)
    return _stats_select(per_search).having(_witnesses(per_search) >= min_users)


def daily_query(tables: Tables, window: Window) -> sa.Select:
    """Searches per UTC day of the window, oldest first (no query text: no threshold)."""
    per_search = _per_search(tables, window, tables.searches.c.day)
    return _stats_select(per_search).order_by(per_search.c.key)


def stream_stats(engine: sa.Engine, query: sa.Select) -> Iterator[QueryStats]:
    """The rows of one of the queries above, fetched in chunks."""
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=_ROWS_PER_FETCH).execute(query)
        for row in result:
            # PostgreSQL sums integers into NUMERIC and averages into NUMERIC (Decimal).
            yield QueryStats(
                key=row.key,
                searches=int(row.searches),
                users=int(row.users),
                witnesses=int(row.witnesses),
                zero_result_searches=int(row.zero),
                clicked_searches=int(row.clicked),
                clicks=int(row.clicks),
                converted_searches=int(row.converted),
                mean_first_click_position=(
                    None if row.first_click is None else float(row.first_click)
                ),
            )
