"""``POST /events``: clicks, add-to-carts and purchases, acknowledged only once stored."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends

from search.api.app import Components, components_of
from search.api.models import ERROR_RESPONSES, EventIn, EventsOut
from search.api.security import require_api_key
from search.errors import InvalidQuery, LimitExceeded
from search.experiments.event_log import Event
from search.metrics import EVENTS_STORED
from search.settings import Settings, get_settings

router = APIRouter(tags=["events"])


@router.post(
    "/events",
    response_model=EventsOut,
    responses=ERROR_RESPONSES,
    dependencies=[Depends(require_api_key)],
)
def post_events(
    body: Annotated[EventIn | list[EventIn], Body()],
    components: Annotated[Components, Depends(components_of)],
    settings: Annotated[Settings, Depends(get_settings)],
) -> EventsOut:
    """Store one event or a batch. Each must name the ``request_id`` of a search this server
    answered; an ``event_id`` already stored is counted as a duplicate, not stored again."""
    events = body if isinstance(body, list) else [body]
    if len(events) > settings.api_max_events:
        raise LimitExceeded(
            f"the batch has {len(events)} events; the limit is {settings.api_max_events} "
            "(SHELF_API_MAX_EVENTS)"
        )
    if not events:
        return EventsOut(received=0, stored=0, duplicates=0)
    wanted = {e.request_id for e in events}
    known = components.event_log.known_request_ids(wanted)
    if known != wanted:
        # Impressions are written asynchronously: let the queued ones land, then look again.
        components.impressions.flush()
        known = components.event_log.known_request_ids(wanted)
    unknown = sorted(wanted - known)
    if unknown:
        shown = ", ".join(repr(r) for r in unknown[:5])
        raise InvalidQuery(
            f"request_id {shown} matches no search answer with results: send the request_id a "
            "GET /search response returned"
        )
    stored = components.event_log.record_events([Event(**e.model_dump()) for e in events])
    EVENTS_STORED.inc(stored)
    return EventsOut(received=len(events), stored=stored, duplicates=len(events) - stored)
