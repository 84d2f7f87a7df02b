"""The analytics queries on SQLite and PostgreSQL: numbers, grouping, filters, k-anonymity."""

from __future__ import annotations

import datetime as dt
import itertools
import zlib
from typing import Any

import pytest

from search.analytics.reports import daily, one_query, query_list
from search.analytics.window import make_window
from search.errors import NotFound
from search.events.log import Event, Impression, SqliteEventLog
from search.settings import Settings

K = Settings().analytics_min_users  # the default threshold, 5
DAY = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC)
_ids = itertools.count()


def searched(
    log: SqliteEventLog,
    query: str,
    users: int,
    *,
    locale: str = "en",
    results: int = 3,
    clicks: tuple[int, ...] = (),
    purchases: int = 0,
    ts: dt.datetime = DAY,
    page: int = 1,
    user_prefix: str = "u",
) -> None:
    """``users`` searches for ``query``, one per user, each user on a network of its own; the
    first ``len(clicks)`` of them get a click at that position, the first ``purchases`` a
    purchase too."""
    impressions, events = [], []
    for user in range(users):
        request_id = f"r{next(_ids)}"
        shown = tuple(f"p{i}" for i in range(results))
        impressions.append(
            Impression(
                request_id,
                query,
                locale,
                "none",
                shown,
                user_id=f"{user_prefix}{user}",
                client_network=network_of(f"{user_prefix}{user}"),
                ts=ts,
                page=page,
                result_count=results,
            )  # fmt: skip
        )
        if user < len(clicks):
            events.append(Event(f"e{next(_ids)}", "click", request_id, "p0", clicks[user], ts=ts))
        if user < purchases:
            events.append(Event(f"e{next(_ids)}", "purchase", request_id, "p0", 1, ts=ts))
    log.record_impressions(impressions)
    log.record_events(events)


def network_of(user: str) -> str:
    """The /24 a test user searches from: one per user, the same at every search."""
    digest = zlib.crc32(user.encode())
    return f"10.{digest >> 8 & 255}.{digest & 255}.0/24"


def shown(log: SqliteEventLog, which: Any, **window: Any) -> list[str]:
    body = query_list(log, make_window(**window), which, min_users=K, limit=50)
    return [row["query"] for row in body["queries"]]


def one(log: SqliteEventLog, text: str, **window: Any) -> dict[str, Any]:
    return one_query(log, make_window(**window), text, min_users=K)


# (list, how to make a query belong to it)
LISTS = [
    ("top", {}),
    ("zero", {"results": 0}),
    ("no-clicks", {}),
    ("query", {}),
]


@pytest.mark.parametrize(("which", "kind"), LISTS, ids=[name for name, _ in LISTS])
def test_a_query_shows_from_the_threshold_of_distinct_users_on(
    event_log: SqliteEventLog, which: str, kind: dict[str, Any]
) -> None:
    assert K == 5
    # Four users, one of them searching it three times: still four people, hidden.
    searched(event_log, "jane.doe@example.com", K - 1, **kind)
    searched(event_log, "jane.doe@example.com", 2, **kind)
    if which == "query":
        with pytest.raises(NotFound, match="fewer than 5 users"):
            one(event_log, "jane.doe@example.com")
    else:
        assert shown(event_log, which) == []
    searched(event_log, "jane.doe@example.com", 1, user_prefix="other", **kind)  # the fifth
    if which == "query":
        assert one(event_log, "jane.doe@example.com")["users"] == K
    else:
        assert shown(event_log, which) == ["jane.doe@example.com"]


def test_searches_without_user_or_session_count_as_nobody(event_log: SqliteEventLog) -> None:
    event_log.record_impressions(
        [Impression(f"anon{i}", "anon", "en", "none", ("p0",), result_count=1) for i in range(9)]
    )
    assert shown(event_log, "top") == []


def test_ctr_conversion_and_first_click_position_per_query(event_log: SqliteEventLog) -> None:
    searched(event_log, "red shoes", 8, clicks=(1, 3, 2, 2), purchases=1)
    searched(event_log, "red shoes", 2, results=0, user_prefix="z")  # zero results twice
    row = one(event_log, "Red  SHOES")
    assert row["query"] == "red shoes"
    assert (row["searches"], row["users"], row["zero_result_searches"]) == (10, 10, 2)
    assert row["searches_with_results"] == 8
    assert (row["clicked_searches"], row["clicks"], row["converted_searches"]) == (4, 4, 1)
    assert row["ctr"] == pytest.approx(4 / 8)
    assert row["conversion"] == pytest.approx(1 / 8)
    assert row["mean_first_click_position"] == pytest.approx((1 + 3 + 2 + 2) / 4)


def test_the_lists_order_and_select_their_queries(event_log: SqliteEventLog) -> None:
    searched(event_log, "boots", 7, clicks=(1,))
    searched(event_log, "apron", 6)  # results, never clicked
    searched(event_log, "zzz", 5, results=0)
    searched(event_log, "mugs", 6, clicks=(2,))
    assert shown(event_log, "top") == ["boots", "apron", "mugs", "zzz"]  # ties by text
    assert shown(event_log, "zero") == ["zzz"]
    assert shown(event_log, "no-clicks") == ["apron"]
    limited = query_list(event_log, make_window(), "top", min_users=K, limit=2)
    assert [row["query"] for row in limited["queries"]] == ["boots", "apron"]


def test_queries_group_by_their_normalised_case_folded_text(event_log: SqliteEventLog) -> None:
    for user, spelling in enumerate(["Straße", "STRASSE", "strasse", " straße ", "Stra\u00dfe"]):
        searched(event_log, spelling, 1, user_prefix=f"s{user}-")
    assert shown(event_log, "top") == ["strasse"]
    assert one(event_log, "STRAßE")["searches"] == 5


def test_locale_and_time_range_select_searches(event_log: SqliteEventLog) -> None:
    later = DAY + dt.timedelta(days=1)
    searched(event_log, "tee", 5, locale="de")
    searched(event_log, "tea", 5, locale="en", ts=later)
    assert shown(event_log, "top", locale="de-CH") == ["tee"]
    assert shown(event_log, "top", locale="en") == ["tea"]
    # [from, to): the start is in, the end is out.
    assert shown(event_log, "top", start=later) == ["tea"]
    assert shown(event_log, "top", end=later) == ["tee"]
    assert shown(event_log, "top", start=DAY, end=DAY + dt.timedelta(seconds=1)) == ["tee"]
    naive = dt.datetime(2026, 11, 3)  # no offset: UTC
    assert shown(event_log, "top", start=naive) == ["tea"]


def test_searches_per_day(event_log: SqliteEventLog) -> None:
    searched(event_log, "tee", 2, clicks=(1,))
    searched(event_log, "nothing here", 1, results=0)
    searched(event_log, "tea", 3, ts=DAY + dt.timedelta(days=1))
    days = daily(event_log, make_window())["days"]
    assert [(d["day"], d["searches"], d["zero_result_searches"]) for d in days] == [
        ("2026-11-02", 3, 1),
        ("2026-11-03", 3, 0),
    ]
    assert days[0]["ctr"] == pytest.approx(1 / 2)
    assert daily(event_log, make_window(locale="fr"))["days"] == []


def test_later_pages_are_not_searches(event_log: SqliteEventLog) -> None:
    searched(event_log, "socks", 5)
    searched(event_log, "socks", 5, page=2, user_prefix="p")
    assert one(event_log, "socks")["searches"] == 5
