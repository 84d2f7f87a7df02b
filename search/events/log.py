"""The EventLog seam: experiments, impressions (what a search showed) and events (what the
shopper did).

Two engines behind one Protocol: PostgreSQL (production) and a SQLite file (embedded default),
both on SQLAlchemy Core with the same tables (``search.events.tables``). Events carry an
``event_id`` that is unique in the store: a storefront retrying a batch stores each event once
(``INSERT ... ON CONFLICT DO NOTHING`` on both dialects).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from search.errors import ConfigError, Conflict, NotFound
from search.events.aggregates import Slice, UnitTally, stream_unit_tallies
from search.events.batch_insert import ROWS_PER_INSERT, InsertOutcome, insert_rows
from search.events.definitions import Experiment
from search.events.tables import Tables, add_missing_columns, make_tables
from search.lazy_tables import create_when_connected
from search.query.normalize import query_key
from search.settings import Settings

_ROWS_PER_INSERT = ROWS_PER_INSERT


def unit_of(user_id: str | None, session_id: str | None) -> str | None:
    """The randomisation unit: the user when known, else the session; None when neither."""
    if user_id:
        return f"user:{user_id}"
    if session_id:
        return f"session:{session_id}"
    return None


@dataclass(frozen=True)
class Impression:
    """One search answer as shown: its products in order, who saw them, in which variant."""

    request_id: str
    query: str
    locale: str | None
    variant: str
    product_ids: tuple[str, ...]  # in order, from first_position on
    first_position: int = 1  # the rank of product_ids[0] (a page 2 starts after page 1)
    user_id: str | None = None
    session_id: str | None = None
    ts: dt.datetime | None = None
    experiment_id: str | None = None
    page: int = 1  # the page shown (1: the search's first answer, which the report counts)
    sort: str = "relevance"
    result_count: int | None = None  # the match set's size (0: a zero-result search; None: unknown)


@dataclass(frozen=True)
class Event:
    """A shopper's action on one product of one search answer."""

    event_id: str
    type: str  # click | add_to_cart | purchase
    request_id: str
    product_id: str
    position: int
    user_id: str | None = None
    session_id: str | None = None
    value: float | None = None
    currency: str | None = None
    ts: dt.datetime | None = None


class EventLog(Protocol):
    """Where experiments, impressions and events are kept. Two engines: PostgreSQL and SQLite."""

    engine: sa.Engine  # for the streamed read-only queries above the seam (plans, judgments)
    tables: Tables

    def record_impressions(self, batch: Sequence[Impression]) -> int:
        """Store search answers shown (one row each); return how many were new."""
        ...

    def record_events(self, batch: Sequence[Event]) -> int:
        """Store events once each by ``event_id``; return how many were new."""
        ...

    def store_events(self, batch: Sequence[Event]) -> InsertOutcome:
        """Like ``record_events``, and say which events (by index in ``batch``) the store could
        not take and why; every other event of the batch is stored."""
        ...

    def known_request_ids(self, request_ids: Iterable[str]) -> set[str]:
        """Those of ``request_ids`` that have a stored impression."""
        ...

    def create_experiment(self, experiment: Experiment) -> None:
        """Store a new experiment; ``Conflict`` when its id is taken."""
        ...

    def update_experiment(self, experiment: Experiment) -> None:
        """Replace a stored experiment's definition and status; ``NotFound`` when absent."""
        ...

    def experiment(self, experiment_id: str) -> Experiment:
        """The experiment called ``experiment_id``; ``NotFound`` when absent."""
        ...

    def experiments(self, status: str | None = None) -> list[Experiment]:
        """All experiments (or those in ``status``), oldest first."""
        ...

    def unit_tallies(
        self, experiment_id: str, by: Slice = None
    ) -> Iterator[tuple[str | None, UnitTally]]:
        """Stream (slice value, totals) per unit and variant: by ``locale``/``day``, or None."""
        ...

    def ping(self) -> None:
        """Raise when the store cannot be reached (``SELECT 1``)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class _SqlEventLog:
    """What both engines share: the tables, the queries. Subclasses supply the dialect's
    ``INSERT ... ON CONFLICT DO NOTHING`` and connection set-up."""

    def __init__(
        self, url: str, *, table_prefix: str = "shelf_", connect_timeout_s: int = 2
    ) -> None:
        self.connect_timeout_s = connect_timeout_s
        self.engine = self._engine(url)
        self.tables = make_tables(table_prefix)
        # Nothing connects here: a server starts with its store down (``search.lazy_tables``).
        tables = self.tables
        create_when_connected(
            self.engine, tables.metadata, lambda c: add_missing_columns(c, tables)
        )

    def _engine(self, url: str) -> sa.Engine:
        return sa.create_engine(url, pool_pre_ping=True)

    def _insert_ignoring_duplicates(self, table: sa.Table) -> Any:
        raise NotImplementedError

    def _insert_rows(
        self, table: sa.Table, rows: list[dict[str, Any]], label: str
    ) -> InsertOutcome:
        # One statement with the rows as parameters, not ``.values(rows)`` (which compiles a new
        # statement for every batch): SQLAlchemy caches it and sends multi-row VALUES pages
        # ("insertmanyvalues"), 3-5x faster per row on both engines. RETURNING lists only the
        # rows inserted (duplicates skipped): count those, since rowcount is not reliable for
        # multi-row inserts on every driver. A row the store cannot take is dropped alone
        # (``search.events.batch_insert``), never with the rest of its batch.
        key = next(iter(table.primary_key.columns))
        statement = self._insert_ignoring_duplicates(table).returning(key)
        return insert_rows(self.engine, statement, rows, table_label=label)

    def record_impressions(self, batch: Sequence[Impression]) -> int:
        """One row per search answer; a request id written twice keeps its first row."""
        now = dt.datetime.now(dt.UTC)
        rows = []
        for imp in {imp.request_id: imp for imp in reversed(batch)}.values():
            ts = imp.ts or now
            rows.append(
                {
                    "request_id": imp.request_id,
                    "experiment_id": imp.experiment_id,
                    "variant": imp.variant,
                    "unit_id": unit_of(imp.user_id, imp.session_id),
                    "user_id": imp.user_id,
                    "session_id": imp.session_id,
                    "query": imp.query,
                    "locale": imp.locale,
                    "first_position": imp.first_position,
                    "page": imp.page,
                    "sort": imp.sort,
                    "product_ids": list(imp.product_ids),
                    "query_key": query_key(imp.query),
                    "result_count": -1 if imp.result_count is None else imp.result_count,
                    "ts": ts,
                    "day": ts.astimezone(dt.UTC).date().isoformat(),
                }
            )
        return self._insert_rows(self.tables.searches, rows, "searches").written if rows else 0

    def record_events(self, batch: Sequence[Event]) -> int:
        """Insert, skipping event ids already stored (also within the batch)."""
        return self.store_events(batch).written

    def store_events(self, batch: Sequence[Event]) -> InsertOutcome:
        """Insert, skipping event ids already stored (also within the batch); the events the
        store cannot take are returned by their index in ``batch``."""
        now = dt.datetime.now(dt.UTC)
        first_index: dict[str, int] = {}
        for index, e in enumerate(batch):
            first_index.setdefault(e.event_id, index)  # the first of each id wins
        indexes = sorted(first_index.values())
        rows = [
            {
                "event_id": e.event_id,
                "type": e.type,
                "request_id": e.request_id,
                "product_id": e.product_id,
                "position": e.position,
                "user_id": e.user_id,
                "session_id": e.session_id,
                "value": e.value,
                "currency": e.currency,
                "ts": e.ts or now,
                "received_at": now,
            }
            for e in (batch[i] for i in indexes)
        ]
        if not rows:
            return InsertOutcome()
        outcome = self._insert_rows(self.tables.events, rows, "events")
        outcome.rejected = [(indexes[row], reason) for row, reason in outcome.rejected]
        return outcome

    def known_request_ids(self, request_ids: Iterable[str]) -> set[str]:
        """Request ids with a stored search answer."""
        wanted = sorted(set(request_ids))
        if not wanted:
            return set()
        column = self.tables.searches.c.request_id
        found: set[str] = set()
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), _ROWS_PER_INSERT):
                query = sa.select(column).where(
                    column.in_(wanted[start : start + _ROWS_PER_INSERT])
                )
                found.update(row[0] for row in conn.execute(query))
        return found

    def create_experiment(self, experiment: Experiment) -> None:
        """Insert; ``Conflict`` when the id is taken."""
        table = self.tables.experiments
        row = _experiment_row(experiment)
        with self.engine.begin() as conn:
            statement = self._insert_ignoring_duplicates(table).values(row).returning(table.c.id)
            if not conn.execute(statement).fetchall():
                raise Conflict(
                    f"experiment {experiment.id!r} already exists: pick another id, or change "
                    "the existing one's status with PATCH /experiments/{id}"
                )

    def update_experiment(self, experiment: Experiment) -> None:
        """Replace definition and status; ``NotFound`` when absent."""
        table = self.tables.experiments
        row = _experiment_row(experiment)
        del row["created_at"]
        with self.engine.begin() as conn:
            done = conn.execute(table.update().where(table.c.id == experiment.id).values(row))
            if done.rowcount == 0:
                raise _not_found(experiment.id)

    def experiment(self, experiment_id: str) -> Experiment:
        """One experiment by id."""
        table = self.tables.experiments
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(table.c.definition).where(table.c.id == experiment_id)
            ).first()
        if row is None:
            raise _not_found(experiment_id)
        return Experiment.model_validate(row[0])

    def experiments(self, status: str | None = None) -> list[Experiment]:
        """All experiments, or those in ``status``; oldest first."""
        table = self.tables.experiments
        query = sa.select(table.c.definition).order_by(table.c.created_at, table.c.id)
        if status is not None:
            query = query.where(table.c.status == status)
        with self.engine.connect() as conn:
            return [Experiment.model_validate(row[0]) for row in conn.execute(query)]

    def unit_tallies(
        self, experiment_id: str, by: Slice = None
    ) -> Iterator[tuple[str | None, UnitTally]]:
        """Per-unit totals, streamed (see ``search.events.aggregates``)."""
        return stream_unit_tallies(self.engine, self.tables, experiment_id, by)

    def ping(self) -> None:
        """``SELECT 1``."""
        with self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def count(self, table: str) -> int:
        """Rows in ``searches``, ``events`` or ``experiments`` (for tests and operators)."""
        target = {
            "searches": self.tables.searches,
            "events": self.tables.events,
            "experiments": self.tables.experiments,
        }[table]
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(target)).scalar_one())

    def drop_tables(self) -> None:
        """Drop this log's tables (tests clean up with it)."""
        self.tables.metadata.drop_all(self.engine)

    def close(self) -> None:
        """Close pooled connections."""
        self.engine.dispose()


def _experiment_row(experiment: Experiment) -> dict[str, Any]:
    return {
        "id": experiment.id,
        "status": experiment.status,
        "definition": experiment.model_dump(mode="json"),
        "created_at": experiment.created_at,
        "updated_at": dt.datetime.now(dt.UTC),
    }


def _not_found(experiment_id: str) -> NotFound:
    return NotFound(
        f"experiment {experiment_id!r} does not exist: GET /experiments lists those that do"
    )


class SqliteEventLog(_SqlEventLog):
    """The embedded default: a SQLite file (WAL, so reads do not wait for the writer)."""

    def _engine(self, url: str) -> sa.Engine:
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine

    def _insert_ignoring_duplicates(self, table: sa.Table) -> Any:
        from sqlalchemy.dialects.sqlite import insert

        return insert(table).on_conflict_do_nothing()


class PostgresEventLog(_SqlEventLog):
    """The production engine: PostgreSQL through psycopg 3; a server that does not answer
    within ``connect_timeout_s`` fails the call (the URL's own ``connect_timeout`` wins)."""

    def _engine(self, url: str) -> sa.Engine:
        given = "connect_timeout" in make_url(url).query
        timeout = {} if given else {"connect_timeout": self.connect_timeout_s}
        return sa.create_engine(url, pool_pre_ping=True, connect_args=timeout)

    def _insert_ignoring_duplicates(self, table: sa.Table) -> Any:
        from sqlalchemy.dialects.postgresql import insert

        return insert(table).on_conflict_do_nothing()


def make_event_log(settings: Settings) -> SqliteEventLog | PostgresEventLog:
    """The EventLog ``SHELF_EVENTS_URL`` names (a SQLite file in the data dir when unset)."""
    url = settings.events_database_url
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError as exc:
        raise ConfigError(f"SHELF_EVENTS_URL={url!r} is not a SQLAlchemy URL: {exc}") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        return SqliteEventLog(url, table_prefix=settings.events_table_prefix)
    if backend == "postgresql":
        return PostgresEventLog(
            url,
            table_prefix=settings.events_table_prefix,
            connect_timeout_s=settings.events_connect_timeout_s,
        )
    raise ConfigError(
        f"SHELF_EVENTS_URL uses {backend!r}; use sqlite:///PATH or postgresql+psycopg://..."
    )
