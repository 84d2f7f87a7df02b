"""Suggestions with the event store down (a real PostgreSQL, stopped): a restart completes from
the catalog and the popular queries of the local copy, and says they may be stale."""

from __future__ import annotations

import contextlib
import uuid
from pathlib import Path

from search.events.log import Impression, PostgresEventLog
from search.events.refreshed import LastGood
from search.recall.embedded.backend import EmbeddedRecall
from search.settings import Settings
from search.suggest.service import make_suggestions
from tests.conftest import make_product
from tests.stores import PrivatePostgres


def test_a_restart_with_the_store_down_suggests_the_last_popular_queries_and_the_catalog(
    private_postgres: PrivatePostgres, tmp_path: Path
) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}_"
    settings = Settings(data_dir=tmp_path, events_url=private_postgres.url)
    recall = EmbeddedRecall(settings.index_dir)
    recall.index([make_product(id="p-1", brand="Brookline")])
    recall.close()
    log = PostgresEventLog(private_postgres.url, table_prefix=prefix)
    log.record_impressions(
        [
            Impression(uuid.uuid4().hex, "brook trout", "en", "control", ("p-1",), user_id=f"u{n}")
            for n in range(5)
        ]  # fmt: skip
    )
    last_good = LastGood.of(tmp_path / "last-good", private_postgres.url, prefix)
    before = make_suggestions(settings, log.engine, log.tables.searches, last_good)
    assert before.refresh()  # read from the store: its popular queries copied
    private_postgres.stop()
    try:
        restarted = PostgresEventLog(private_postgres.url, table_prefix=prefix)
        after = make_suggestions(settings, restarted.engine, restarted.tables.searches, last_good)
        after.start()
        after.close()
        found = [s.text for s in after.get().suggest("broo", "en", 5)]
        freshness = after.freshness()
        restarted.close()
    finally:
        with contextlib.suppress(RuntimeError):
            private_postgres.start()
    assert found == ["brook trout", "Brookline"]
    assert freshness.stale and freshness.problem is not None
    assert "popular queries as last read" in freshness.problem
    log.drop_tables()
    log.close()
