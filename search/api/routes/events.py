"""``POST /events``: clicks, add-to-carts and purchases, acknowledged only once stored.

A batch is never refused whole for some bad events: every event naming a known search is stored
and those that do not are listed back, each with its index and reason, so a storefront loses
nothing valid and learns exactly what to fix. Only a batch with no valid event is a 422.

Malformed events are rejected the same way, one by one: an event breaking the schema (a missing
field, a wrong type, a control character in any field) is listed back with its index and the
field at fault, and the rest of the batch is stored. A storefront batches many shoppers' events,
and one shopper's bad cookie must not cost the others theirs. A single event (not in a list) that
is malformed is a 422 naming the field. An event the store still cannot take is dropped alone and
listed too.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends
from pydantic import TypeAdapter, ValidationError

from catalog.product import describe_validation_error
from search.api.components import Components, components_of, settings_of
from search.api.models import ERROR_RESPONSES, EventIn, EventsOut, RejectedEvent
from search.api.security import require_api_key
from search.errors import InvalidQuery, LimitExceeded
from search.events.log import Event
from search.metrics import EVENTS_STORED
from search.query.input_text import first_control_character
from search.settings import Settings

router = APIRouter(tags=["events"])

_UNKNOWN_ADVICE = "send the request_id a GET /search response returned"
_EVENT = TypeAdapter(EventIn)
# The body is validated event by event (so one bad event costs no other); the schema still
# documents it as one event or a list of them.
_EVENT_SCHEMA = EventIn.model_json_schema()
_BODY_SCHEMA = {"anyOf": [_EVENT_SCHEMA, {"type": "array", "items": _EVENT_SCHEMA}]}


@router.post(
    "/events",
    response_model=EventsOut,
    responses=ERROR_RESPONSES,
    dependencies=[Depends(require_api_key)],
    openapi_extra={
        "requestBody": {"content": {"application/json": {"schema": _BODY_SCHEMA}}, "required": True}
    },
)
def post_events(
    body: Annotated[Any, Body()],
    components: Annotated[Components, Depends(components_of)],
    settings: Annotated[Settings, Depends(settings_of)],
) -> EventsOut:
    """Store one event or a batch. Each must match the schema and name the ``request_id`` of a
    search this server answered; those that do not are rejected one by one (listed in
    ``rejected``) and the rest stored. An ``event_id`` already stored is counted as a
    duplicate, not stored again. 422 only when no event of the batch can be stored."""
    items = body if isinstance(body, list) else [body]
    if len(items) > settings.api_max_events:
        raise LimitExceeded(
            f"the batch has {len(items)} events; the limit is {settings.api_max_events} "
            "(SHELF_API_MAX_EVENTS)"
        )
    if not items:
        return EventsOut(received=0, stored=0, duplicates=0)
    events: list[tuple[int, EventIn]] = []
    rejected: list[RejectedEvent] = []
    for index, item in enumerate(items):
        try:
            events.append((index, _EVENT.validate_python(item)))
        except ValidationError as exc:
            if not isinstance(body, list):
                raise InvalidQuery(describe_validation_error(exc)) from None
            reason = f"event {index} of the batch: {describe_validation_error(exc)}"
            rejected.append(RejectedEvent(index=index, event_id=_event_id(item), reason=reason))
    wanted = {e.request_id for _, e in events}
    known = components.event_log.known_request_ids(wanted)
    if known != wanted:
        # Impressions are written asynchronously: let the queued ones land, then look again.
        components.impressions.flush()
        known |= components.event_log.known_request_ids(wanted - known)
    for index, event in events:
        if event.request_id not in known:
            reason = (
                f"event {index} of the batch: request_id {event.request_id!r} matches no "
                f"search answer with results: {_UNKNOWN_ADVICE}"
            )
            rejected.append(RejectedEvent(index=index, event_id=event.event_id, reason=reason))
    storable = [(index, e) for index, e in events if e.request_id in known]
    if not storable:
        raise InvalidQuery(_nothing_stored(rejected, wanted, malformed=len(events) < len(items)))
    outcome = components.event_log.store_events([Event(**e.model_dump()) for _, e in storable])
    EVENTS_STORED.inc(outcome.written)
    for at, reason in outcome.rejected:
        index, event = storable[at]
        rejected.append(
            RejectedEvent(
                index=index, event_id=event.event_id, reason=f"event {index} of the batch: {reason}"
            )
        )
    rejected.sort(key=lambda r: r.index)
    return EventsOut(
        received=len(items),
        stored=outcome.written,
        duplicates=len(storable) - outcome.written - len(outcome.rejected),
        rejected_count=len(rejected),
        rejected=rejected,
    )


def _event_id(item: object) -> str:
    """The event id of a malformed event when it has a usable one, else ``""``."""
    event_id = item.get("event_id") if isinstance(item, dict) else None
    if isinstance(event_id, str) and first_control_character(event_id) is None:
        return event_id[:128]
    return ""


def _nothing_stored(rejected: list[RejectedEvent], wanted: set[str], malformed: bool) -> str:
    """The 422 message when no event of the batch could be stored."""
    if not malformed:
        unknown = sorted(wanted)
        shown = ", ".join(repr(r) for r in unknown[:5])
        more = f" (and {len(unknown) - 5} more)" if len(unknown) > 5 else ""
        return (
            f"no event was stored: request_id {shown}{more} matches no search answer with "
            f"results: {_UNKNOWN_ADVICE}"
        )
    rejected = sorted(rejected, key=lambda r: r.index)
    more = f" (and {len(rejected) - 5} more)" if len(rejected) > 5 else ""
    return "no event was stored: " + "; ".join(r.reason for r in rejected[:5]) + more
