"""Popular queries for suggestions: one streamed aggregation over ``searches`` and their events.

A query counts when at least ``min_users`` witnesses sent it and were shown products: distinct
client networks, or distinct shoppers of events joined to its searches, whichever is more
(``search.events.evidence``). Never the user ids a public search carries: five invented ids
from one client are one witness. Queries can hold personal data (emails, names, order numbers);
the threshold (k-anonymity, ``SHELF_ANALYTICS_MIN_USERS``) keeps those out, and it is applied in
SQL to the text as stored, so a query below it never leaves the database.

Spellings that differ only in case or width (``Headphones``, ``headphones``) are one completion:
each must pass the threshold on its own, and the completion keeps the largest count, a lower
bound of its witnesses (adding them could count one person twice).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa

from catalog.locales import language_of
from search.events.evidence import clicking_shopper, witness_count
from search.events.tables import Tables

STREAM_ROWS = 2_000


@dataclass(frozen=True)
class PopularQuery:
    """A query as stored, its language code (None: the search had none) and its witnesses
    (``search.events.evidence``)."""

    language: str | None
    query: str
    users: int


def popular_queries(engine: sa.Engine, tables: Tables, *, min_users: int) -> Iterator[PopularQuery]:
    """Every (language, query) with results sent by at least ``min_users`` witnesses,
    streamed (``STREAM_ROWS`` rows at a time; no table is loaded whole), in no set order.

    A search "had results" when it showed products (a non-empty ``product_ids``); only first
    pages count, so paging through one search does not count it again."""
    if min_users < 1:
        raise ValueError(f"min_users must be at least 1 (got {min_users})")
    searches, events = tables.searches, tables.events
    witnesses = witness_count(searches.c.client_network, clicking_shopper(events))
    statement = (
        sa.select(searches.c.locale, searches.c.query, witnesses.label("users"))
        .select_from(searches.outerjoin(events, events.c.request_id == searches.c.request_id))
        .where(
            searches.c.page == 1,
            sa.func.json_array_length(searches.c.product_ids) > 0,
        )
        .group_by(searches.c.locale, searches.c.query)
        .having(witnesses >= min_users)
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
