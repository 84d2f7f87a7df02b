"""The popular-query source on real SQLite and PostgreSQL: k-anonymity both ways, counted in
witnesses a client cannot invent (client networks, shoppers of joined events), never user ids."""

from __future__ import annotations

import uuid

import pytest

from search.events.log import Event, Impression, SqliteEventLog
from search.suggest.popular import PopularQuery, popular_queries


def search(query: str, user: str | None, network: str | None, *, locale: str | None = "en",
           shown: int = 1, page: int = 1) -> Impression:  # fmt: skip
    """One search of ``query`` by ``user`` from ``network`` that showed ``shown`` products."""
    return Impression(
        request_id=uuid.uuid4().hex,
        query=query,
        locale=locale,
        variant="control",
        product_ids=tuple(f"p{i}" for i in range(shown)),
        user_id=user,
        page=page,
        client_network=network,
    )


def by_networks(query: str, networks: int, **fields: object) -> list[Impression]:
    """One search of ``query`` by a user of each of ``networks`` distinct networks."""
    return [
        search(query, f"user-{query}-{n}", f"10.0.{n}.0/24", **fields)  # type: ignore[arg-type]
        for n in range(networks)
    ]


def clicked(log: SqliteEventLog, searches: list[Impression], shoppers: list[str | None]) -> None:
    """A click on each of ``searches``, by the shopper the storefront names (None: none)."""
    log.record_events(
        [
            Event(uuid.uuid4().hex, "click", s.request_id, "p0", 1, user_id=shopper)
            for s, shopper in zip(searches, shoppers, strict=True)
        ]
    )


def popular(log: SqliteEventLog, min_users: int = 5) -> set[PopularQuery]:
    return set(popular_queries(log.engine, log.tables, min_users=min_users))


def test_a_query_is_popular_from_the_threshold_of_distinct_networks_on(
    event_log: SqliteEventLog,
) -> None:
    event_log.record_impressions(by_networks("five nets", 5) + by_networks("four nets", 4))
    assert popular(event_log) == {PopularQuery("en", "five nets", 5)}
    assert popular(event_log, min_users=4) == {
        PopularQuery("en", "five nets", 5),
        PopularQuery("en", "four nets", 4),
    }


@pytest.mark.parametrize("invented", [5, 50])
def test_invented_user_ids_from_one_network_are_one_witness(
    event_log: SqliteEventLog, invented: int
) -> None:
    event_log.record_impressions(
        [search("spam phrase", f"fake-{n}", "203.0.113.0/24") for n in range(invented)]
        + [search("spam phrase", f"fake-s{n}", None) for n in range(invented)]  # no network
    )
    assert popular(event_log) == set()
    assert popular(event_log, min_users=1) == {PopularQuery("en", "spam phrase", 1)}


FIFTH_SEARCH = {
    "a new user id from a network seen": search("rare query", "someone-else", "10.0.0.0/24"),
    "a new network, no results": search("rare query", "x", "10.9.0.0/24", shown=0),
    "a new network, a later page": search("rare query", "x", "10.9.0.0/24", page=2),
    "a new user id, no network (before networks were stored)": search("rare query", "x", None),
    "a new network, another spelling": search("Rare query", "x", "10.9.0.0/24"),
}


@pytest.mark.parametrize("fifth", FIFTH_SEARCH.values(), ids=FIFTH_SEARCH.keys())
def test_what_does_not_make_a_fifth_witness(event_log: SqliteEventLog, fifth: Impression) -> None:
    event_log.record_impressions([*by_networks("rare query", 4), fifth])
    assert popular(event_log) == set()


# (shoppers the storefront names on the clicks of five searches from one network, witnesses)
CLICKS = {
    "five shoppers": (["a", "b", "c", "d", "e"], 5),
    "no shopper named: each search is one": ([None] * 5, 5),
    "one shopper clicking five times": (["a"] * 5, 1),
    "four shoppers": (["a", "b", "c", "d", "a"], 4),
}


@pytest.mark.parametrize(("shoppers", "witnesses"), CLICKS.values(), ids=CLICKS.keys())
def test_joined_clicks_count_their_shoppers(
    event_log: SqliteEventLog, shoppers: list[str | None], witnesses: int
) -> None:
    searches = [search("clicked query", f"fake-{n}", "10.0.0.0/24") for n in range(5)]
    event_log.record_impressions(searches)
    clicked(event_log, searches, shoppers)
    assert popular(event_log, min_users=1) == {PopularQuery("en", "clicked query", witnesses)}


def test_networks_and_shoppers_are_not_added_up(event_log: SqliteEventLog) -> None:
    """Each is a lower bound of the people: the larger counts, never their sum."""
    searches = by_networks("mixed", 3)
    event_log.record_impressions(searches)
    clicked(event_log, searches[:2], ["shopper-a", "shopper-b"])
    assert popular(event_log, min_users=1) == {PopularQuery("en", "mixed", 3)}


def test_languages_are_counted_apart_and_read_as_language_codes(event_log: SqliteEventLog) -> None:
    event_log.record_impressions(
        by_networks("tv", 5, locale="en-GB")
        + by_networks("tv", 3, locale="de")
        + by_networks("电视", 5, locale="zh-Hant-TW")
        + by_networks("ok", 5, locale=None)
    )
    assert popular(event_log) == {
        PopularQuery("en", "tv", 5),
        PopularQuery("zh", "电视", 5),
        PopularQuery(None, "ok", 5),
    }


def test_min_users_below_one_is_refused(event_log: SqliteEventLog) -> None:
    with pytest.raises(ValueError, match="min_users"):
        popular(event_log, min_users=0)
