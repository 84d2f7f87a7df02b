"""Fixtures the store-backed tests of several packages share (experiments, analytics,
suggestions, click judgments)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from search.events.log import SqliteEventLog
from tests.stores import postgres_event_log


@pytest.fixture(params=["sqlite", "postgresql"])
def event_log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqliteEventLog]:
    """A SQLite file, then the real PostgreSQL; tables of this test only, dropped after it."""
    prefix = f"t{uuid.uuid4().hex[:8]}_"
    log: SqliteEventLog
    if request.param == "sqlite":
        log = SqliteEventLog(f"sqlite:///{tmp_path / 'events.db'}", table_prefix=prefix)
    else:
        log = postgres_event_log(prefix)  # type: ignore[assignment]
    yield log
    log.drop_tables()
    log.close()
