"""The background rebuild: off the request path, rebuilt only when a source changed, the last
snapshot kept when a source fails."""

from __future__ import annotations

import uuid
from pathlib import Path

import sqlalchemy as sa

from search.events.log import Impression, SqliteEventLog
from search.recall.embedded.backend import EmbeddedRecall
from search.settings import Settings
from search.suggest.service import SnapshotLoader, Suggestions
from tests.conftest import make_product


def five_users_searched(log: SqliteEventLog, query: str) -> None:
    """Five shoppers from five networks searched ``query``."""
    log.record_impressions(
        [
            Impression(
                uuid.uuid4().hex,
                query,
                "en",
                "control",
                ("p-1",),
                user_id=f"u{n}",
                client_network=f"10.0.{n}.0/24",
            )
            for n in range(5)
        ]  # fmt: skip
    )


def test_a_rebuild_happens_only_when_a_source_changed(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    recall = EmbeddedRecall(settings.index_dir)
    recall.index([make_product(id="p-1", brand="Brookline")])
    log = SqliteEventLog(f"sqlite:///{tmp_path / 'events.db'}")
    load = SnapshotLoader(settings, log.engine, log.tables)
    first = load()
    assert [s.text for s in first.suggest("broo", "en", 5)] == ["Brookline"]
    assert load() is first  # nothing changed: the same snapshot, not rebuilt

    five_users_searched(log, "brook trout")
    second = load()
    assert second is not first
    assert [s.text for s in second.suggest("broo", "en", 5)] == ["brook trout", "Brookline"]

    recall.index([make_product(id="p-2", brand="Brooksby")])
    third = load()
    assert "Brooksby" in [s.text for s in third.suggest("broo", "en", 5)]
    recall.close()
    log.close()


def test_a_failing_store_keeps_the_last_snapshot(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    log = SqliteEventLog(f"sqlite:///{tmp_path / 'events.db'}")
    five_users_searched(log, "garden hose")
    suggestions = Suggestions(SnapshotLoader(settings, log.engine, log.tables), refresh_s=3600)
    suggestions.start()
    assert [s.text for s in suggestions.get().suggest("gard", "en", 5)] == ["garden hose"]
    with log.engine.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE {log.tables.searches.name}"))
    assert not suggestions.refresh()
    assert [s.text for s in suggestions.get().suggest("gard", "en", 5)] == ["garden hose"]
    suggestions.close()
    log.close()
