"""The event log in the User Behavior Insights (UBI) schema, as JSON Lines.

UBI is the o19s/OpenSearch specification of search logs (https://github.com/o19s/ubi), version
1.3.0 here: ``schema/1.3.0/query.request.schema.json`` for queries (OpenSearch's ``ubi_queries``
index) and ``schema/1.3.0/event.schema.json`` for events (``ubi_events``). OpenSearch's Search
Relevance Workbench and other UBI tools read both.

How Shelf's log maps onto it:
- A search answer (one row of ``searches``, any page, zero-result ones included) is a query:
  ``query_id`` and ``query_response_id`` are its ``request_id`` (Shelf has one id per answer),
  ``user_query`` its normalised text, ``query_response_hit_ids`` the product ids shown in order,
  ``client_id`` the session id (else the user id), and ``query_attributes`` the rest (locale,
  page, sort, result count, experiment and variant, user id).
- A click, add-to-cart or purchase is an event with that ``action_name``; ``query_id`` names its
  search, ``event_attributes.object.object_id`` the product and
  ``event_attributes.position.ordinal.index`` its 1-based position; value and currency ride
  along in ``event_attributes``.
- Timestamps are ISO 8601 in UTC with a trailing ``Z`` (OpenSearch requires an offset). An id
  longer than the spec's 100 characters is replaced by ``sha256:`` and the first 64 hex digits
  of its SHA-256, so every line stays valid.

The export is the operator's own raw log: no k-anonymity threshold applies (unlike analytics).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa

from search.events.tables import Tables

UBI_VERSION = "1.3.0"
APPLICATION = "shelf"
QUERIES_FILE = "ubi_queries.jsonl"
EVENTS_FILE = "ubi_events.jsonl"
_MAX_ID = 100
_ROWS_PER_FETCH = 1000


def _timestamp(value: dt.datetime) -> str:
    # SQLite hands back naive datetimes: they were stored in UTC.
    utc = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    return utc.isoformat().replace("+00:00", "Z")


def _short_id(value: str | None) -> str | None:
    if value is None or len(value) <= _MAX_ID:
        return value
    return "sha256:" + hashlib.sha256(value.encode("utf-8")).hexdigest()


def _without_nulls(doc: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in doc.items() if value is not None}


def ubi_queries(
    engine: sa.Engine, tables: Tables, since: dt.datetime | None = None
) -> Iterator[dict[str, Any]]:
    """One UBI query document per stored search answer (``ts >= since``), oldest first."""
    searches = tables.searches
    query = sa.select(searches).order_by(searches.c.ts, searches.c.request_id)
    if since is not None:
        query = query.where(searches.c.ts >= since)
    with engine.connect() as conn:
        for row in conn.execution_options(yield_per=_ROWS_PER_FETCH).execute(query):
            attributes = _without_nulls(
                {
                    "locale": row.locale,
                    "page": row.page,
                    "sort": row.sort,
                    "first_position": row.first_position,
                    "result_count": None if row.result_count < 0 else row.result_count,
                    "experiment_id": row.experiment_id,
                    "variant": row.variant,
                    "user_id": row.user_id,
                }
            )
            yield _without_nulls(
                {
                    "application": APPLICATION,
                    "query_id": _short_id(row.request_id),
                    "client_id": _short_id(row.session_id or row.user_id),
                    "user_query": row.query,
                    "query_attributes": attributes,
                    "object_id_field": "id",
                    "timestamp": _timestamp(row.ts),
                    "query_response_id": row.request_id,
                    "query_response_hit_ids": [str(pid) for pid in row.product_ids],
                }
            )


def ubi_events(
    engine: sa.Engine, tables: Tables, since: dt.datetime | None = None
) -> Iterator[dict[str, Any]]:
    """One UBI event document per stored event (``ts >= since``), oldest first; the search's
    session and user stand in for an event that names neither."""
    events, searches = tables.events, tables.searches
    query = (
        sa.select(
            events,
            searches.c.session_id.label("search_session_id"),
            searches.c.user_id.label("search_user_id"),
        )
        .select_from(events.outerjoin(searches, searches.c.request_id == events.c.request_id))
        .order_by(events.c.ts, events.c.event_id)
    )
    if since is not None:
        query = query.where(events.c.ts >= since)
    with engine.connect() as conn:
        for row in conn.execution_options(yield_per=_ROWS_PER_FETCH).execute(query):
            session = row.session_id or row.search_session_id
            user = row.user_id or row.search_user_id
            attributes = _without_nulls(
                {
                    "object": {"object_id": row.product_id, "object_id_field": "id"},
                    "position": {"ordinal": {"index": row.position}},
                    "event_id": row.event_id,
                    "value": row.value,
                    "currency": row.currency,
                }
            )
            yield _without_nulls(
                {
                    "application": APPLICATION,
                    "action_name": row.type,
                    "query_id": _short_id(row.request_id),
                    "session_id": _short_id(session),
                    "client_id": _short_id(session or user),
                    "user_id": _short_id(user),
                    "timestamp": _timestamp(row.ts),
                    "event_attributes": attributes,
                }
            )


def write_jsonl(documents: Iterator[dict[str, Any]], out: IO[str]) -> int:
    """Write one JSON object per line (UTF-8, unescaped); return how many."""
    count = 0
    for doc in documents:
        out.write(json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n")
        count += 1
    return count


def export_ubi(
    engine: sa.Engine, tables: Tables, out_dir: Path, since: dt.datetime | None = None
) -> dict[str, Any]:
    """Write ``ubi_queries.jsonl`` and ``ubi_events.jsonl`` into ``out_dir`` (created), streamed;
    return ``{"ubi_version", "queries", "events", "files"}``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = {}
    files = []
    for name, documents in (
        (QUERIES_FILE, ubi_queries(engine, tables, since)),
        (EVENTS_FILE, ubi_events(engine, tables, since)),
    ):
        path = out_dir / name
        with path.open("w", encoding="utf-8") as out:
            counts[name] = write_jsonl(documents, out)
        files.append(str(path))
    return {
        "ubi_version": UBI_VERSION,
        "queries": counts[QUERIES_FILE],
        "events": counts[EVENTS_FILE],
        "files": files,
    }
