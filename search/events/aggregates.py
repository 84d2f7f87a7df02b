"""The one query behind a report: per-unit tallies of an experiment, streamed from the store.

Events are first summed per request (clicks, first click position, add-to-carts, purchases and
their value), then joined to the experiment's searches and summed per variant and unit (and per
locale or day for the slices). Only first pages with results count as searches (see the
where clause).
Only events whose ``request_id`` is a search of this experiment count; searches without a unit
(no user, no session) belong to no experiment and are skipped.
SQLAlchemy Core only, so SQLite and PostgreSQL run the same statement.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa

from search.events.tables import Tables


@dataclass(frozen=True)
class UnitTally:
    """One randomisation unit's totals in one variant (within one slice)."""

    variant: str
    searches: int
    clicked_searches: int  # searches with >= 1 click
    clicks: int
    converted_searches: int  # searches with >= 1 purchase
    purchases: int
    revenue: float  # sum of purchase values
    reciprocal_rank: float  # sum over its searches of 1/(position of first click); 0 for no click
    add_to_carts: int = 0


Slice = Literal["locale", "day"] | None
_ROWS_PER_FETCH = 1000


def _count_of(events: sa.Table, event_type: str) -> sa.ColumnElement[int]:
    return sa.func.sum(sa.case((events.c.type == event_type, 1), else_=0))


def per_request_events(events: sa.Table, request_ids: sa.Select) -> sa.Subquery:
    """SELECT per search (``request_id`` among ``request_ids``) that has events: clicks, its
    first clicked position (1-based; None: no click), add-to-carts, purchases and revenue."""
    return (
        sa.select(
            events.c.request_id,
            _count_of(events, "click").label("clicks"),
            # Positions are 1-based; anything else would divide by zero in a reciprocal rank.
            sa.func.min(
                sa.case(((events.c.type == "click") & (events.c.position >= 1), events.c.position))
            ).label("first_click"),
            _count_of(events, "add_to_cart").label("add_to_carts"),
            _count_of(events, "purchase").label("purchases"),
            sa.func.sum(
                sa.case((events.c.type == "purchase", sa.func.coalesce(events.c.value, 0.0)))
            ).label("revenue"),
        )
        .where(events.c.request_id.in_(request_ids))
        .group_by(events.c.request_id)
        .subquery("per_request")
    )


def unit_tallies_query(tables: Tables, experiment_id: str, by: Slice = None) -> sa.Select:
    """SELECT slice, variant, unit_id and the UnitTally fields, one row per unit (and slice),
    ordered by slice so that each slice's rows come together."""
    searches, events = tables.searches, tables.events
    experiment_searches = sa.select(searches.c.request_id).where(
        searches.c.experiment_id == experiment_id
    )
    per_request = per_request_events(events, experiment_searches)
    sliced_by = None if by is None else {"locale": searches.c.locale, "day": searches.c.day}[by]
    clicks = sa.func.coalesce(per_request.c.clicks, 0)
    purchases = sa.func.coalesce(per_request.c.purchases, 0)
    reciprocal_rank = sa.case(
        (
            per_request.c.first_click.is_not(None),
            sa.literal(1.0, sa.Float) / sa.cast(per_request.c.first_click, sa.Float),
        ),
        else_=sa.literal(0.0, sa.Float),
    )
    group = [searches.c.variant, searches.c.unit_id] + ([] if sliced_by is None else [sliced_by])
    query = (
        sa.select(
            (sa.null() if sliced_by is None else sliced_by).label("slice"),
            searches.c.variant,
            searches.c.unit_id,
            sa.func.count().label("searches"),
            sa.func.sum(sa.case((clicks > 0, 1), else_=0)).label("clicked_searches"),
            sa.func.sum(clicks).label("clicks"),
            sa.func.sum(sa.case((purchases > 0, 1), else_=0)).label("converted_searches"),
            sa.func.sum(purchases).label("purchases"),
            sa.func.sum(sa.func.coalesce(per_request.c.revenue, 0.0)).label("revenue"),
            sa.func.sum(reciprocal_rank).label("reciprocal_rank"),
            sa.func.sum(sa.func.coalesce(per_request.c.add_to_carts, 0)).label("add_to_carts"),
        )
        .select_from(
            searches.outerjoin(per_request, per_request.c.request_id == searches.c.request_id)
        )
        .where(
            searches.c.experiment_id == experiment_id,
            searches.c.unit_id.is_not(None),
            # A search is its first page; later pages (their own impressions, and the events
            # on them) are kept for analytics but neither add searches nor count in a report.
            searches.c.page == 1,
            # A search that matched nothing is logged for analytics but is no search here:
            # variants change ranking, never the match set, so it would add the same noise to
            # every arm (and the report's numbers stay those of the searches with results).
            searches.c.result_count != 0,
        )
        .group_by(*group)
    )
    return query if sliced_by is None else query.order_by(sliced_by)


def stream_unit_tallies(
    engine: sa.Engine, tables: Tables, experiment_id: str, by: Slice = None
) -> Iterator[tuple[str | None, UnitTally]]:
    """(slice value, tally) per unit, fetched in chunks (a server-side cursor on PostgreSQL)."""
    query = unit_tallies_query(tables, experiment_id, by)
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=_ROWS_PER_FETCH).execute(query)
        for row in result:
            # PostgreSQL sums integers into NUMERIC (Decimal): normalise the types here.
            yield (
                row.slice,
                UnitTally(
                    variant=row.variant,
                    searches=int(row.searches),
                    clicked_searches=int(row.clicked_searches),
                    clicks=int(row.clicks),
                    converted_searches=int(row.converted_searches),
                    purchases=int(row.purchases),
                    revenue=float(row.revenue),
                    reciprocal_rank=float(row.reciprocal_rank),
                    add_to_carts=int(row.add_to_carts),
                ),
            )
