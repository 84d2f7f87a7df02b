"""``POST /events``: clicks, add-to-carts and purchases, acknowledged only once stored.

A batch is never refused whole for some bad events: every event naming a known search is stored
and those that do not are listed back, each with its index and reason, so a storefront loses
nothing valid and learns exactly what to fix. Only a batch with no valid event is a 422.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends

from search.api.components import Components, components_of
from search.api.models import ERROR_RESPONSES, EventIn, EventsOut, RejectedEvent
from search.api.security import require_api_key
from search.errors import InvalidQuery, LimitExceeded
from search.experiments.event_log import Event
from search.metrics import EVENTS_STORED
from search.settings import Settings, get_settings

router = APIRouter(tags=["events"])

_UNKNOWN_ADVICE = "send the request_id a GET /search response returned"


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
    answered; those that do not are rejected one by one (listed in ``rejected``) and the rest
    stored. An ``event_id`` already stored is counted as a duplicate, not stored again. 422
    only when no event of the batch can be stored."""
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
        known |= components.event_log.known_request_ids(wanted - known)
    rejected = [
        RejectedEvent(
            index=index,
            event_id=event.event_id,
            reason=f"event {index} of the batch: request_id {event.request_id!r} matches no "
            f"search answer with results: {_UNKNOWN_ADVICE}",
        )
        for index, event in enumerate(events)
        if event.request_id not in known
    ]
    if len(rejected) == len(events):
        unknown = sorted(wanted)
        shown = ", ".join(repr(r) for r in unknown[:5])
        more = f" (and {len(unknown) - 5} more)" if len(unknown) > 5 else ""
        raise InvalidQuery(
            f"no event was stored: request_id {shown}{more} matches no search answer with "
            f"results: {_UNKNOWN_ADVICE}"
        )
    valid = [Event(**e.model_dump()) for e in events if e.request_id in known]
    stored = components.event_log.record_events(valid)
    EVENTS_STORED.inc(stored)
    return EventsOut(
        received=len(events),
        stored=stored,
        duplicates=len(valid) - stored,
        rejected_count=len(rejected),
        rejected=rejected,
    )
