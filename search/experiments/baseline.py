"""A plan's baseline from the event log: the metric's per-user moments and the daily traffic over
the last N days, streamed (one row per unit, folded as the report folds its tallies).

All first-page searches with a unit (user, else session) in the window count, whichever
experiment or none served them; a unit's events are those on its searches. Units per day is the
number of distinct units in the window divided by its days.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from search.errors import InvalidQuery
from search.events.aggregates import UnitTally, per_request_events
from search.events.tables import Tables
from search.experiments.planning import Baseline, PlanRequest, given_baseline, plan
from search.experiments.stats import ratio_moments

_ROWS_PER_FETCH = 1000


def window_tallies_query(tables: Tables, since: dt.datetime) -> sa.Select:
    """SELECT per unit: searches, clicked and converted searches, clicks, purchases, revenue of
    its first-page searches since ``since``."""
    searches, events = tables.searches, tables.events
    window = sa.select(searches.c.request_id).where(searches.c.ts >= since)
    per_request = per_request_events(events, window)
    clicks = sa.func.coalesce(per_request.c.clicks, 0)
    purchases = sa.func.coalesce(per_request.c.purchases, 0)
    return (
        sa.select(
            searches.c.unit_id,
            sa.func.count().label("searches"),
            sa.func.sum(sa.case((clicks > 0, 1), else_=0)).label("clicked_searches"),
            sa.func.sum(clicks).label("clicks"),
            sa.func.sum(sa.case((purchases > 0, 1), else_=0)).label("converted_searches"),
            sa.func.sum(purchases).label("purchases"),
            sa.func.sum(sa.func.coalesce(per_request.c.revenue, 0.0)).label("revenue"),
        )
        .select_from(
            searches.outerjoin(per_request, per_request.c.request_id == searches.c.request_id)
        )
        .where(searches.c.ts >= since, searches.c.unit_id.is_not(None), searches.c.page == 1)
        .group_by(searches.c.unit_id)
    )


def window_tallies(engine: sa.Engine, tables: Tables, since: dt.datetime) -> Iterator[UnitTally]:
    """One tally per unit with searches since ``since``, fetched in chunks."""
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=_ROWS_PER_FETCH).execute(
            window_tallies_query(tables, since)
        )
        for row in result:
            yield UnitTally(
                variant="all",
                searches=int(row.searches),
                clicked_searches=int(row.clicked_searches),
                clicks=int(row.clicks),
                converted_searches=int(row.converted_searches),
                purchases=int(row.purchases),
                revenue=float(row.revenue),
                reciprocal_rank=0.0,
            )


def log_baseline(
    engine: sa.Engine, tables: Tables, metric: str, lookback_days: int, now: dt.datetime
) -> tuple[Baseline | None, float | None]:
    """(the metric's baseline, units per day) over the last ``lookback_days`` days; (None,
    None) when no unit searched then."""
    since = now - dt.timedelta(days=lookback_days)
    moments = ratio_moments(window_tallies(engine, tables, since), metric)
    if moments.units == 0:
        return None, None
    per_day = moments.units / lookback_days
    if moments.value is None or moments.variance is None:
        return None, per_day
    baseline = Baseline(
        value=moments.value,
        unit_variance=moments.variance * moments.units,
        source="log",
        searches_per_unit=moments.searches / moments.units,
        units=moments.units,
        searches=int(moments.searches),
    )
    return baseline, per_day


def plan_experiment(
    request: PlanRequest,
    engine: sa.Engine,
    tables: Tables,
    *,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """The plan for ``request``, reading from the log what it does not give (the baseline, the
    daily traffic); ``InvalidQuery`` (422) naming the parameter when it cannot be planned."""
    now = now or dt.datetime.now(dt.UTC)
    baseline: Baseline | None
    units_per_day = request.units_per_day
    if request.baseline is not None and units_per_day is not None:
        baseline = given_baseline(request)
    else:
        measured, measured_per_day = log_baseline(
            engine, tables, request.metric, request.lookback_days, now
        )
        baseline = given_baseline(request) if request.baseline is not None else measured
        units_per_day = units_per_day if units_per_day is not None else measured_per_day
    if baseline is None:
        raise InvalidQuery(
            f"baseline: no {request.metric} in the log's last {request.lookback_days} days "
            "(fewer than 2 users searched): give baseline (and units_per_day), or a longer "
            "lookback_days"
        )
    if units_per_day is None and request.days is not None:
        raise InvalidQuery("units_per_day: no users in the log's window: give units_per_day")
    try:
        return plan(request, baseline, units_per_day)
    except ValueError as exc:
        raise InvalidQuery(str(exc)) from None
