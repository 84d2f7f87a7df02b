"""The popular queries that led to results: one streamed aggregation over ``searches``.

A query counts when at least ``min_users`` distinct users (the ``unit_id``: the user, else the
session) sent it and were shown products. Queries can hold personal data (emails, names, order
numbers); the threshold (k-anonymity, ``SHELF_ANALYTICS_MIN_USERS``) keeps those out, and it is
applied in SQL to the text as stored, so a query below it never leaves the database.

Spellings that differ only in case or width (``Headphones``, ``headphones``) are one completion:
each must pass the threshold on its own, and the completion keeps the largest count, a lower
bound of its distinct users (adding them could count one user twice).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa

from catalog.locales import language_of

STREAM_ROWS = 2_000


@dataclass(frozen=True)
class PopularQuery:
    """A query as stored, its language code (None: the search had none) and its distinct users."""

    language: str | None
    query: str
    users: int


def popular_queries(
    engine: sa.Engine, searches: sa.Table, *, min_users: int
) -> Iterator[PopularQuery]:
    """Every (language, query) with results sent by at least ``min_users`` distinct users,
    streamed (``STREAM_ROWS`` rows at a time; no table is loaded whole), in no set order.

    A search "had results" when it showed products (a non-empty ``product_ids``); only first
    pages count, so paging through one search does not count it again."""
    if min_users < 1:
        raise ValueError(f"min_users must be at least 1 (got {min_users})")
    users = sa.func.count(sa.distinct(searches.c.unit_id))
    statement = (
        sa.select(searches.c.locale, searches.c.query, users.label("users"))
        .where(
            searches.c.unit_id.is_not(None),
            searches.c.page == 1,
            sa.func.json_array_length(searches.c.product_ids) > 0,
        )
        .group_by(searches.c.locale, searches.c.query)
        .having(users >= min_users)
    )
    with engine.connect() as conn:
        rows = conn.execution_options(stream_results=True, yield_per=STREAM_ROWS).execute(statement)
        for locale, query, count in rows:
            yield PopularQuery(_language(locale), query, int(count))


def _language(locale: str | None) -> str | None:
    """The language code of a stored locale (``de-CH`` -> ``de``); None when it has none or
    names a language Shelf does not analyse."""
    if not locale:
        return None
    try:
        return language_of(locale).code
    except KeyError:
        return None
