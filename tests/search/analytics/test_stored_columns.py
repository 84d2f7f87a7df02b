"""What analytics need stored with each search, on SQLite and PostgreSQL: the query key, the
result count and the client network, added to stores made before them; and the A/B report left
as it was."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from search.analytics.reports import one_query
from search.analytics.window import make_window
from search.errors import NotFound
from search.events.log import Event, Impression, SqliteEventLog
from search.query.normalize import normalize_query, query_key

TS = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC)


def test_a_store_made_before_the_columns_gets_them_and_old_rows_still_count(
    event_log: SqliteEventLog,
) -> None:
    table = event_log.tables.searches.name
    with event_log.engine.begin() as conn:
        for index in ("ts", "query_key"):
            conn.execute(sa.text(f"DROP INDEX {table}_{index}"))
        for column in ("query_key", "result_count", "client_network"):
            conn.execute(sa.text(f'ALTER TABLE {table} DROP COLUMN "{column}"'))
        for user in range(5):  # rows as the old code wrote them
            conn.execute(
                sa.text(
                    f"INSERT INTO {table} (request_id, variant, unit_id, user_id, query, locale, "
                    "first_position, product_ids, page, sort, ts, day) VALUES (:id, 'none', "
                    ":unit, :user, 'Old Query', 'en', 1, '[\"p1\"]', 1, 'relevance', :ts, :day)"
                ),
                {
                    "id": f"old{user}",
                    "unit": f"user:o{user}",
                    "user": f"o{user}",
                    "ts": TS,
                    "day": TS.date().isoformat(),
                },  # fmt: skip
            )
    engine_type = type(event_log)
    reopened = engine_type(event_log.engine.url.render_as_string(hide_password=False),
                           table_prefix=table.removesuffix("searches"))  # fmt: skip
    try:
        inspector = sa.inspect(reopened.engine)
        columns = {c["name"] for c in inspector.get_columns(table)}
        assert {"query_key", "result_count", "client_network"} <= columns
        indexes = {index["name"] for index in inspector.get_indexes(table)}
        assert {f"{table}_ts", f"{table}_query_key"} <= indexes
        # Old rows have no network: their user ids, which anyone could invent, are no witness...
        with pytest.raises(NotFound, match="fewer than 5"):
            one_query(reopened, make_window(), "Old Query", min_users=5)
        # ... and the events the storefront sent for them are.
        reopened.record_events(
            [
                Event(f"e{user}", "click", f"old{user}", "p1", 1, user_id=f"o{user}", ts=TS)
                for user in range(5)
            ]  # fmt: skip
        )
        row = one_query(reopened, make_window(), "Old Query", min_users=5)
        assert (row["searches"], row["zero_result_searches"], row["witnesses"]) == (5, 0, 5)
    finally:
        reopened.close()


def test_zero_result_searches_leave_the_ab_report_unchanged(event_log: SqliteEventLog) -> None:
    def impression(request_id: str, user: str, results: int) -> Impression:
        shown = ("p1", "p2") if results else ()
        return Impression(request_id, "mug", "en", "b", shown, user_id=user, ts=TS,
                          experiment_id="exp", result_count=results)  # fmt: skip

    event_log.record_impressions([impression(f"r{u}", f"u{u}", 2) for u in range(4)])
    before = sorted(t.searches for _, t in event_log.unit_tallies("exp"))
    event_log.record_impressions([impression(f"z{u}", f"u{u}", 0) for u in range(4)])
    after = sorted(t.searches for _, t in event_log.unit_tallies("exp"))
    assert before == after == [1, 1, 1, 1]


@given(st.text(min_size=1, max_size=60))
def test_the_query_key_is_the_pipeline_normalisation_case_folded(text: str) -> None:
    key = query_key(text)
    assert query_key(key) == key  # idempotent: stored keys and asked keys meet
    try:
        normalised = normalize_query(text)
    except Exception:
        return  # a query the pipeline refuses is never stored
    assert key == query_key(normalised)


def test_case_and_spacing_variants_share_one_key() -> None:
    for spellings in (["Straße", "STRASSE", "  strasse "], ["TÉLÉ\tRouge", "télé rouge"]):
        assert len({query_key(s) for s in spellings}) == 1, spellings
