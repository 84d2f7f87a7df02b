"""The analytics answers as the API and the CLI give them: a window, its threshold and rows."""

from __future__ import annotations

from typing import Any, Protocol

import sqlalchemy as sa

from search.analytics.queries import (
    QueryList,
    daily_query,
    one_query_stats_query,
    query_stats_query,
    stream_stats,
)
from search.analytics.window import Window
from search.errors import NotFound
from search.events.tables import Tables
from search.query.normalize import query_key


class SqlStore(Protocol):
    """What analytics read: an event log's engine and tables (both engines have them)."""

    engine: sa.Engine
    tables: Tables


def query_list(
    store: SqlStore, window: Window, which: QueryList, *, min_users: int, limit: int
) -> dict[str, Any]:
    """``{"locale", "from", "to", "min_users", "queries": [row, ...]}``, rows as
    ``QueryStats.as_dict`` (the ``limit`` first of ``which`` list)."""
    query = query_stats_query(store.tables, window, which, min_users, limit)
    rows = [stats.as_dict() for stats in stream_stats(store.engine, query)]
    return {**window.describe(), "min_users": min_users, "queries": rows}


def one_query(store: SqlStore, window: Window, text: str, *, min_users: int) -> dict[str, Any]:
    """One query's row (``text`` normalised as ``query_key`` does) with the window; ``NotFound``
    when fewer than ``min_users`` witnesses sent it, the same answer as when nobody did."""
    key = query_key(text)
    query = one_query_stats_query(store.tables, window, key, min_users)
    found = list(stream_stats(store.engine, query))
    if not found:
        raise NotFound(
            f"no numbers for query {key!r}: fewer than {min_users} users sent it in this window "
            "(SHELF_ANALYTICS_MIN_USERS: distinct client networks, or shoppers of its events), "
            "or none did"
        )
    return {**window.describe(), "min_users": min_users, **found[0].as_dict()}


def daily(store: SqlStore, window: Window) -> dict[str, Any]:
    """``{"locale", "from", "to", "days": [row, ...]}``, one row per UTC day with searches,
    oldest first (``QueryStats.as_dict`` with ``day`` for ``query``)."""
    query = daily_query(store.tables, window)
    rows = [stats.as_dict("day") for stats in stream_stats(store.engine, query)]
    return {**window.describe(), "days": rows}
