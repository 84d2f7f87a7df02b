"""The popular-query source on real SQLite and PostgreSQL: k-anonymity both ways."""

from __future__ import annotations

import uuid

import pytest

from search.events.log import Impression, SqliteEventLog
from search.suggest.popular import PopularQuery, popular_queries


def search(query: str, user: str | None, *, locale: str | None = "en", shown: int = 1,
           page: int = 1) -> Impression:  # fmt: skip
    """One search of ``query`` by ``user`` that showed ``shown`` products."""
    return Impression(
        request_id=uuid.uuid4().hex,
        query=query,
        locale=locale,
        variant="control",
        product_ids=tuple(f"p{i}" for i in range(shown)),
        user_id=user,
        page=page,
    )


def by_users(query: str, users: int, **fields: object) -> list[Impression]:
    """One search of ``query`` by each of ``users`` distinct users."""
    return [search(query, f"user-{query}-{n}", **fields) for n in range(users)]  # type: ignore[arg-type]


def popular(log: SqliteEventLog, min_users: int = 5) -> set[PopularQuery]:
    return set(popular_queries(log.engine, log.tables.searches, min_users=min_users))


def test_a_query_is_popular_from_the_threshold_of_distinct_users_on(
    event_log: SqliteEventLog,
) -> None:
    event_log.record_impressions(by_users("five users", 5) + by_users("four users", 4))
    assert popular(event_log) == {PopularQuery("en", "five users", 5)}
    assert popular(event_log, min_users=4) == {
        PopularQuery("en", "five users", 5),
        PopularQuery("en", "four users", 4),
    }


FIFTH_SEARCH = {
    "the same user again": search("rare query", "user-rare query-0"),
    "a new user, no results": search("rare query", "someone-else", shown=0),
    "a new user, a later page": search("rare query", "someone-else", page=2),
    "no user nor session": search("rare query", None),
    "a new user, another spelling": search("Rare query", "someone-else"),
}


@pytest.mark.parametrize("fifth", FIFTH_SEARCH.values(), ids=FIFTH_SEARCH.keys())
def test_what_does_not_make_a_fifth_user(event_log: SqliteEventLog, fifth: Impression) -> None:
    event_log.record_impressions([*by_users("rare query", 4), fifth])
    assert popular(event_log) == set()


def test_languages_are_counted_apart_and_read_as_language_codes(event_log: SqliteEventLog) -> None:
    event_log.record_impressions(
        by_users("tv", 5, locale="en-GB")
        + by_users("tv", 3, locale="de")
        + by_users("电视", 5, locale="zh-Hant-TW")
        + by_users("ok", 5, locale=None)
    )
    assert popular(event_log) == {
        PopularQuery("en", "tv", 5),
        PopularQuery("zh", "电视", 5),
        PopularQuery(None, "ok", 5),
    }


def test_min_users_below_one_is_refused(event_log: SqliteEventLog) -> None:
    with pytest.raises(ValueError, match="min_users"):
        popular(event_log, min_users=0)
