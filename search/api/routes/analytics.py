"""``/analytics``: top, zero-result and no-click queries, one query's numbers, searches per day;
and ``/dashboard/analytics``, the page that draws them.

Every data route needs the API key (queries are shoppers' text). A query shows only when at
least ``SHELF_ANALYTICS_MIN_USERS`` witnesses sent it: distinct client networks, or shoppers of
events joined to its searches (``search.events.evidence``), never invented user ids.
Searches answered but not yet written are flushed first, so an answer includes them.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from search.analytics.queries import QueryList
from search.analytics.reports import SqlStore, daily, one_query, query_list
from search.analytics.window import Window, check_limit, make_window
from search.api.components import Components, components_of, settings_of
from search.api.models import ERROR_RESPONSES
from search.api.security import require_api_key
from search.query.input_text import FreeText
from search.settings import Settings

router = APIRouter(tags=["analytics"])
_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    404: ERROR_RESPONSES[422] | {"description": "Fewer users than the threshold sent it"},
}


class Counts(BaseModel):
    """Searches (first pages) and what followed them."""

    searches: int
    users: int = Field(description="Distinct users (user id, else session id), as sent")
    witnesses: int = Field(
        description="Distinct client networks (/24, /48), or distinct shoppers of events joined "
        "to these searches, whichever is more: what SHELF_ANALYTICS_MIN_USERS counts"
    )
    searches_with_results: int
    zero_result_searches: int
    clicked_searches: int
    clicks: int
    converted_searches: int = Field(description="Searches with at least one purchase")
    ctr: float | None = Field(description="Clicked searches / searches with results")
    conversion: float | None = Field(description="Converted searches / searches with results")
    mean_first_click_position: float | None = Field(description="1-based, clicked searches")


class QueryCounts(Counts):
    """One query (normalised and case-folded) and its numbers."""

    query: str


class DayCounts(Counts):
    """One UTC day and its numbers."""

    day: str


class WindowOut(BaseModel):
    """The window asked about: the query language, and [from, to) in UTC (null: unbounded)."""

    locale: str | None
    from_: str | None = Field(alias="from")
    to: str | None


class QueriesOut(WindowOut):
    """Queries of a list, with the k-anonymity threshold they passed."""

    min_users: int
    queries: list[QueryCounts]


class QueryOut(WindowOut, QueryCounts):
    """One query's numbers in the window."""

    min_users: int


class DaysOut(WindowOut):
    """Searches per UTC day, oldest first."""

    days: list[DayCounts]


LocaleParam = Annotated[
    str | None,
    Query(
        max_length=35,
        description="Queries in this locale's language (de-CH and de both mean German); "
        "absent: every language.",
    ),
]
FromParam = Annotated[
    dt.datetime | None,
    Query(alias="from", description="Start (inclusive), ISO 8601; no offset means UTC."),
]
ToParam = Annotated[
    dt.datetime | None, Query(description="End (exclusive), ISO 8601; no offset means UTC.")
]
LimitParam = Annotated[int, Query(description="Most queries (SHELF_ANALYTICS_MAX_ROWS).")]


def _window(locale: LocaleParam = None, start: FromParam = None, to: ToParam = None) -> Window:
    return make_window(locale, start, to)


Store = Annotated[Components, Depends(components_of)]
AppSettings = Annotated[Settings, Depends(settings_of)]
AskedWindow = Annotated[Window, Depends(_window)]


def _store(components: Components) -> SqlStore:
    # Both EventLog engines are SQLAlchemy stores; analytics read their tables directly.
    return cast(SqlStore, components.event_log)


def _list(
    which: QueryList, components: Components, settings: Settings, window: Window, limit: int
) -> QueriesOut:
    check_limit(limit, settings.analytics_max_rows)
    components.impressions.flush()
    body = query_list(
        _store(components), window, which, min_users=settings.analytics_min_users, limit=limit
    )
    return QueriesOut.model_validate(body)


@router.get(
    "/analytics/top-queries",
    response_model=QueriesOut,
    dependencies=[Depends(require_api_key)],
    responses=_RESPONSES,
)
def top_queries(
    components: Store, settings: AppSettings, window: AskedWindow, limit: LimitParam = 50
) -> QueriesOut:
    """The most searched queries, most first (ties by text)."""
    return _list("top", components, settings, window, limit)


@router.get(
    "/analytics/zero-results",
    response_model=QueriesOut,
    dependencies=[Depends(require_api_key)],
    responses=_RESPONSES,
)
def zero_result_queries(
    components: Store, settings: AppSettings, window: AskedWindow, limit: LimitParam = 50
) -> QueriesOut:
    """Queries whose searches matched nothing, most zero-result searches first."""
    return _list("zero", components, settings, window, limit)


@router.get(
    "/analytics/no-clicks",
    response_model=QueriesOut,
    dependencies=[Depends(require_api_key)],
    responses=_RESPONSES,
)
def no_click_queries(
    components: Store, settings: AppSettings, window: AskedWindow, limit: LimitParam = 50
) -> QueriesOut:
    """Queries that had results but not one click, most such searches first."""
    return _list("no-clicks", components, settings, window, limit)


@router.get(
    "/analytics/query",
    response_model=QueryOut,
    dependencies=[Depends(require_api_key)],
    responses=_RESPONSES,
)
def query_metrics(
    components: Store,
    settings: AppSettings,
    window: AskedWindow,
    q: Annotated[FreeText, Query(max_length=2000, description="The query (normalised here).")],
) -> QueryOut:
    """One query's CTR, conversion and mean first-click position; 404 below the threshold."""
    components.impressions.flush()
    body = one_query(_store(components), window, q, min_users=settings.analytics_min_users)
    return QueryOut.model_validate(body)


@router.get(
    "/analytics/daily",
    response_model=DaysOut,
    dependencies=[Depends(require_api_key)],
    responses=_RESPONSES,
)
def searches_per_day(components: Store, window: AskedWindow) -> DaysOut:
    """Searches, zero-result searches, CTR and conversion per UTC day, oldest first."""
    components.impressions.flush()
    return DaysOut.model_validate(daily(_store(components), window))
