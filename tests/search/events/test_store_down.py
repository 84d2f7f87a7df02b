"""The event store opens while its PostgreSQL is down (a real server, stopped): nothing
connects until first use, calls fail fast while it is down, and the tables are made on the
first connection once it is back."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa

from search.events.log import PostgresEventLog, make_event_log
from search.merchandising.store import RuleStore
from search.settings import Settings
from search.synonyms.store import SynonymStore
from tests.stores import PrivatePostgres

FAILS_WITHIN_S = 10.0  # the connect timeout is 2 s; a refused connection takes milliseconds


@pytest.fixture
def down(private_postgres: PrivatePostgres) -> Iterator[PrivatePostgres]:
    """The private PostgreSQL, stopped for the test and started again after it."""
    private_postgres.stop()
    try:
        yield private_postgres
    finally:
        with contextlib.suppress(RuntimeError):  # the test started it again
            private_postgres.start()


def _tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_an_event_log_opens_with_its_store_down_and_its_calls_fail_fast(
    down: PrivatePostgres,
) -> None:
    settings = Settings(events_url=down.url, events_table_prefix="lazy_")
    log = make_event_log(settings)  # no connection: no error
    for call in (log.ping, lambda: log.count("searches"), lambda: log.experiments("running")):
        started = time.monotonic()
        with pytest.raises(sa.exc.OperationalError):
            call()
        assert time.monotonic() - started < FAILS_WITHIN_S
    log.close()


@pytest.mark.parametrize(
    "open_store",
    [
        lambda engine, prefix: SynonymStore(engine, table_prefix=prefix),
        lambda engine, prefix: RuleStore(engine, table_prefix=prefix),
    ],
    ids=["synonyms", "rules"],
)
def test_the_tables_are_made_on_the_first_connection_once_the_store_is_back(
    down: PrivatePostgres, open_store: Callable[[sa.Engine, str], object]
) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}_"
    log = PostgresEventLog(down.url, table_prefix=prefix)
    open_store(log.engine, prefix)
    down.start()
    assert not any(name.startswith(prefix) for name in _tables(down.url))
    assert log.count("searches") == 0  # the first connection makes every registered table
    made = {name for name in _tables(down.url) if name.startswith(prefix)}
    assert {f"{prefix}searches", f"{prefix}events", f"{prefix}experiments"} <= made
    assert len(made) > 3  # the synonyms', or the rules' and their audit's
    metadata = sa.MetaData()
    metadata.reflect(log.engine, only=sorted(made))
    metadata.drop_all(log.engine)
    log.close()
