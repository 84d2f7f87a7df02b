"""Which impressions of a batch to store, and under which request id: one already stored is
left out (so a batch written again stores nothing twice), and one whose request id another
search holds gets a derived id (so no search's impression is lost to another's). Shared by the
impression writer and the spool's drainer."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import uuid
from collections.abc import Sequence

import sqlalchemy as sa

from search.events.log import EventLog, Impression
from search.metrics import IMPRESSION_ID_CONFLICTS

log = logging.getLogger(__name__)

_CHUNK = 500  # request ids per lookup


def _stored_times(event_log: EventLog, request_ids: set[str]) -> dict[str, dt.datetime | None]:
    """The stored impressions' times (UTC, naive) by request id, for those of ``request_ids``."""
    searches = event_log.tables.searches
    found: dict[str, dt.datetime | None] = {}
    wanted = sorted(request_ids)
    with event_log.engine.connect() as conn:
        for start in range(0, len(wanted), _CHUNK):
            query = sa.select(searches.c.request_id, searches.c.ts).where(
                searches.c.request_id.in_(wanted[start : start + _CHUNK])
            )
            found.update((row[0], _naive_utc(row[1])) for row in conn.execute(query))
    return found


def _naive_utc(ts: dt.datetime | None) -> dt.datetime | None:
    # SQLite gives back a naive UTC time, PostgreSQL an aware one: compare them as naive UTC.
    if ts is None or ts.tzinfo is None:
        return ts
    return ts.astimezone(dt.UTC).replace(tzinfo=None)


def derived_request_id(imp: Impression) -> str:
    """The id an impression is stored under when its own is taken: the id, a dot and 8 hex
    digits, the same for the same impression (its time and query), so a retry stores it once."""
    if imp.ts is None:
        suffix = uuid.uuid4().hex[:8]
    else:
        seed = f"{imp.request_id}|{_naive_utc(imp.ts)}|{imp.query}|{imp.page}"
        suffix = hashlib.sha256(seed.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{imp.request_id[:55]}.{suffix}"


def unique_impressions(event_log: EventLog, impressions: Sequence[Impression]) -> list[Impression]:
    """``impressions`` ready to store: one already stored (same request id and time: a batch
    written again after a failure, or drained twice from the spool) left out, and one whose
    request id another impression holds, stored or earlier in the batch, given a derived id
    (``derived_request_id``), so that no search's impression is lost to another's."""
    derived = [derived_request_id(imp) for imp in impressions]
    stored = _stored_times(event_log, {imp.request_id for imp in impressions} | set(derived))

    def stored_already(request_id: str, imp: Impression) -> bool:
        return (
            imp.ts is not None
            and request_id in stored
            and (stored[request_id] == _naive_utc(imp.ts))
        )

    seen: set[str] = set()
    unique = []
    for imp, derived_id in zip(impressions, derived, strict=True):
        if stored_already(imp.request_id, imp):
            continue  # this very impression is stored already
        if imp.request_id in stored or imp.request_id in seen:
            if stored_already(derived_id, imp) or derived_id in seen:
                continue
            IMPRESSION_ID_CONFLICTS.inc()
            log.warning(
                "request id already has an impression: stored under a derived id",
                extra={"client_request_id": imp.request_id, "stored_as": derived_id},
            )
            imp = dataclasses.replace(imp, request_id=derived_id)
        seen.add(imp.request_id)
        unique.append(imp)
    return unique
