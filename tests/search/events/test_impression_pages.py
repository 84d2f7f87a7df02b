"""Impressions record their page and sort; a report counts searches by their first page; a store
created before these columns gains them (SQLite and the real PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from search.events.log import Event, Impression, SqliteEventLog
from search.events.tables import added_search_columns, make_tables
from tests.stores import POSTGRES_URL, postgres_event_log


def _impression(request_id: str, page: int, sort: str = "relevance") -> Impression:
    return Impression(
        request_id,
        "coffee",
        "en",
        "control",
        ("p1", "p2"),
        first_position=1 + (page - 1) * 2,
        user_id="u1",
        experiment_id="exp",
        page=page,
        sort=sort,
    )


def _rows(log: SqliteEventLog) -> list[tuple[str, int, str]]:
    searches = log.tables.searches
    query = sa.select(searches.c.request_id, searches.c.page, searches.c.sort)
    with log.engine.connect() as conn:
        return sorted(tuple(row) for row in conn.execute(query))  # type: ignore[misc]


def test_each_impression_keeps_its_page_and_sort(event_log: SqliteEventLog) -> None:
    event_log.record_impressions([_impression("r1", 1), _impression("r2", 3, "price_asc")])
    assert _rows(event_log) == [("r1", 1, "relevance"), ("r2", 3, "price_asc")]


def test_a_report_counts_a_search_once_by_its_first_page(event_log: SqliteEventLog) -> None:
    event_log.record_impressions([_impression("r1", 1), _impression("r1-p2", 2)])
    event_log.record_events(
        [
            Event("e1", "click", "r1", "p1", 1, user_id="u1"),
            Event("e2", "click", "r1-p2", "p1", 3, user_id="u1"),
        ]
    )
    tallies = [tally for _slice, tally in event_log.unit_tallies("exp")]
    assert [(t.searches, t.clicks) for t in tallies] == [(1, 1)]


@pytest.fixture(params=["sqlite", "postgresql"])
def old_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A store whose ``searches`` table predates the added columns (page, sort, and those
    after them), with one row."""
    prefix = f"t{uuid.uuid4().hex[:8]}_"
    url = f"sqlite:///{tmp_path / 'events.db'}" if request.param == "sqlite" else POSTGRES_URL
    engine = sa.create_engine(url)
    tables = make_tables(prefix)
    old = sa.MetaData()
    columns = [
        sa.Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable)
        for c in tables.searches.columns
        if c.name not in {added.name for added in added_search_columns()}
    ]
    old_searches = sa.Table(tables.searches.name, old, *columns)
    old.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            old_searches.insert().values(
                request_id="before", variant="control", query="q", first_position=1,
                product_ids=["p1"], ts=sa.func.now(), day="2026-11-30",
            )
        )  # fmt: skip
    engine.dispose()
    yield request.param, prefix
    engine = sa.create_engine(url)
    tables.metadata.drop_all(engine)
    engine.dispose()


def _open(kind: str, prefix: str, tmp_path: Path) -> SqliteEventLog:
    if kind == "sqlite":
        return SqliteEventLog(f"sqlite:///{tmp_path / 'events.db'}", table_prefix=prefix)
    return postgres_event_log(prefix)  # type: ignore[return-value]


def test_a_store_made_before_the_page_columns_gains_them_keeping_its_rows(
    old_store: tuple[str, str], tmp_path: Path
) -> None:
    kind, prefix = old_store
    log = _open(kind, prefix, tmp_path)
    try:
        log.record_impressions([_impression("after", 2, "newest")])
        assert _rows(log) == [("after", 2, "newest"), ("before", 1, "relevance")]
        _open(kind, prefix, tmp_path).close()  # opening it again changes nothing
        assert _rows(log) == [("after", 2, "newest"), ("before", 1, "relevance")]
    finally:
        log.close()
