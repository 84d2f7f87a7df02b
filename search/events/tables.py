"""The event database's tables, one definition for SQLite and PostgreSQL.

- ``experiments``: each definition as JSON, with its status beside it for queries.
- ``searches``: one row per search answer shown (an impression): who, which experiment and
  variant, the query, and the product ids in the order shown (none for a search that matched
  nothing, whose ``result_count`` is 0). ``unit_id`` is the randomisation
  unit (user, else session) and ``day`` the UTC date, both written once so reports group by
  plain columns on either engine.
- ``events``: clicks, add-to-carts and purchases, each unique by the client's ``event_id`` and
  joined to its search by ``request_id``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import sqlalchemy as sa


def added_search_columns() -> list[sa.Column]:
    """Columns added to ``searches`` after stores were first created: each with a server
    default, so ``add_missing_columns`` can add it to an existing table and old rows read as
    they were (a first page, in relevance order); ``info["backfill"]``, an SQL expression over
    the row, fills the old rows instead when the default would not do."""
    return [
        sa.Column("page", sa.Integer, nullable=False, server_default=sa.text("1")),
        sa.Column("sort", sa.String(16), nullable=False, server_default="relevance"),
        # analytics: the query as analytics group it (``search.query.normalize.query_key``; on rows
        # stored before, SQL's ``lower(query)``: ASCII case only on SQLite), and the match
        # set's size (``-1`` on rows stored before: they all had results, since zero-result
        # searches were not logged).
        sa.Column(
            "query_key",
            sa.Text,
            nullable=False,
            server_default="",
            info={"backfill": "lower(query)"},
        ),
        sa.Column("result_count", sa.Integer, nullable=False, server_default=sa.text("-1")),
    ]


def add_missing_columns(bind: sa.Engine | sa.Connection, tables: Tables) -> list[str]:
    """Add to an existing ``searches`` table the columns it lacks (``ALTER TABLE ... ADD
    COLUMN`` with the server default, on SQLite and PostgreSQL alike) and the indexes it lacks;
    return the columns' names. On a connection, it runs in the connection's transaction (the
    caller commits); on an engine, in a transaction of its own.
    ``create_all`` makes missing tables but never changes an existing one."""
    have = {col["name"] for col in sa.inspect(bind).get_columns(tables.searches.name)}
    added = []
    with bind.begin() if isinstance(bind, sa.Engine) else contextlib.nullcontext(bind) as conn:
        for column in added_search_columns():
            if column.name in have:
                continue
            kind = column.type.compile(dialect=bind.dialect)
            default = column.server_default.arg  # type: ignore[union-attr]
            default_sql = default.text if isinstance(default, sa.TextClause) else f"'{default}'"
            conn.execute(sa.text(
                f'ALTER TABLE {tables.searches.name} ADD COLUMN "{column.name}" {kind} '
                f"NOT NULL DEFAULT {default_sql}"
            ))  # fmt: skip
            if "backfill" in column.info:  # one statement, in the database: nothing is loaded
                conn.execute(sa.text(
                    f'UPDATE {tables.searches.name} SET "{column.name}" = '
                    f"{column.info['backfill']}"
                ))  # fmt: skip
            added.append(column.name)
    for index in tables.searches.indexes:  # indexes added since, likewise
        index.create(bind, checkfirst=True)
    return added


@dataclass(frozen=True)
class Tables:
    """The tables of one event log (all named with the same prefix)."""

    metadata: sa.MetaData
    experiments: sa.Table
    searches: sa.Table
    events: sa.Table


def make_tables(prefix: str) -> Tables:
    """The tables, named ``<prefix>experiments``, ``<prefix>searches``, ``<prefix>events``."""
    metadata = sa.MetaData()
    experiments = sa.Table(
        f"{prefix}experiments",
        metadata,
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    searches = sa.Table(
        f"{prefix}searches",
        metadata,
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("experiment_id", sa.String(64)),
        sa.Column("variant", sa.String(64), nullable=False),
        sa.Column("unit_id", sa.String(200)),
        sa.Column("user_id", sa.String(128)),
        sa.Column("session_id", sa.String(128)),
        sa.Column("query", sa.Text, nullable=False),
        sa.Column("locale", sa.String(16)),
        sa.Column("first_position", sa.Integer, nullable=False),
        sa.Column("product_ids", sa.JSON, nullable=False),
        *added_search_columns(),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Index(f"{prefix}searches_experiment", "experiment_id", "variant"),
        sa.Index(f"{prefix}searches_ts", "ts"),  # analytics: time ranges
        sa.Index(f"{prefix}searches_query_key", "query_key"),  # analytics: one query
    )
    events = sa.Table(
        f"{prefix}events",
        metadata,
        sa.Column("event_id", sa.String(128), primary_key=True),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False, index=True),
        sa.Column("product_id", sa.String(256), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("user_id", sa.String(128)),
        sa.Column("session_id", sa.String(128)),
        sa.Column("value", sa.Float),
        sa.Column("currency", sa.String(3)),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    return Tables(metadata, experiments, searches, events)
