"""``POST /events``: clicks, add-to-carts and purchases, acknowledged only once stored or
spooled.

While the event store is down, events are written to the durable spool (``search.events.spool``)
and answered 202 with ``pending``; they are stored when it is back. An event for a search whose
impression is still pending (queued, or spooled) is accepted the same way, never a 422. The 422
stays for a request id the store does not know once everything pending here is known. With the
store unreachable that cannot be decided (another server process may have answered the search),
so such an event is spooled unverified: stored once its search appears, else kept aside as
orphaned after ``SHELF_SPOOL_JOIN_WAIT_S``. When neither the spool nor the store can take a
write (a full disk), the answer is 503 with ``Retry-After``.

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

from fastapi import APIRouter, Body, Depends, Response
from pydantic import TypeAdapter, ValidationError

from catalog.product import describe_validation_error
from search.api.components import Components, components_of, settings_of
from search.api.models import ERROR_RESPONSES, EventIn, EventsOut, RejectedEvent
from search.api.security import require_api_key
from search.errors import InvalidQuery, LimitExceeded
from search.events.batch_insert import InsertOutcome
from search.events.log import Event
from search.events.spool import STORE_DOWN
from search.metrics import EVENTS_STORED
from search.query.input_text import first_control_character
from search.settings import Settings

router = APIRouter(tags=["events"])

_UNKNOWN_ADVICE = "send the request_id a GET /search response returned"
_FLUSH_WAIT_S = 2.0  # at most this for the queued impressions to be stored or spooled
_EVENT = TypeAdapter(EventIn)
# The body is validated event by event (so one bad event costs no other); the schema still
# documents it as one event or a list of them.
_EVENT_SCHEMA = EventIn.model_json_schema()
_BODY_SCHEMA = {"anyOf": [_EVENT_SCHEMA, {"type": "array", "items": _EVENT_SCHEMA}]}


@router.post(
    "/events",
    response_model=EventsOut,
    responses={
        **ERROR_RESPONSES,
        202: {"model": EventsOut, "description": "Accepted: some events are pending (spooled)."},
    },
    dependencies=[Depends(require_api_key)],
    openapi_extra={
        "requestBody": {"content": {"application/json": {"schema": _BODY_SCHEMA}}, "required": True}
    },
)
def post_events(
    body: Annotated[Any, Body()],
    response: Response,
    components: Annotated[Components, Depends(components_of)],
    settings: Annotated[Settings, Depends(settings_of)],
) -> EventsOut:
    """Store one event or a batch. Each must match the schema and name the ``request_id`` of a
    search this server answered; those that do not are rejected one by one (listed in
    ``rejected``) and the rest stored. An ``event_id`` already stored is counted as a
    duplicate, not stored again. 422 only when no event of the batch can be stored. 202 when
    some are pending: spooled while the store is down, stored when it is back. 503 with
    ``Retry-After`` when they could be neither stored nor spooled (a full disk)."""
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
    known, reachable = _stored_searches(components, wanted)
    if known != wanted:
        # Impressions are written asynchronously: let the queued ones land (or be spooled),
        # then count those still pending here as known, and look in the store again.
        if components.spool is None or components.spool.unwritable is None:
            components.impressions.flush(timeout_s=_FLUSH_WAIT_S)  # a full disk: no progress
        missing = wanted - known
        on_the_way = components.impressions.pending_request_ids(missing)
        if components.spool is not None:
            on_the_way |= components.spool.pending_request_ids(missing - on_the_way)
        if reachable:
            found, reachable = _stored_searches(components, missing - on_the_way)
            known |= found
        known |= on_the_way
    # With the store unreachable an unknown search cannot be ruled out (another server process
    # may have answered it): such events are spooled unverified and joined later, or orphaned.
    unverified = set() if reachable or components.spool is None else wanted - known
    for index, event in events:
        if event.request_id not in known and event.request_id not in unverified:
            reason = (
                f"event {index} of the batch: request_id {event.request_id!r} matches no "
                f"search answer with results: {_UNKNOWN_ADVICE}"
            )
            rejected.append(RejectedEvent(index=index, event_id=event.event_id, reason=reason))
    storable = [(index, e) for index, e in events if e.request_id in known | unverified]
    if not storable:
        raise InvalidQuery(_nothing_stored(rejected, wanted, malformed=len(events) < len(items)))
    checked = [(i, e) for i, e in storable if e.request_id in known]
    unchecked = [(i, e) for i, e in storable if e.request_id not in known]
    written = _write(components, checked)
    outcome = written or InsertOutcome()  # None: spooled, to be stored when the store is back
    pending = len(checked) if written is None else 0
    if unchecked and components.spool is not None:
        components.spool.write_events([_event(e) for _, e in unchecked], verified=False)
        pending += len(unchecked)
    for at, reason in outcome.rejected:
        index, event = checked[at]
        rejected.append(
            RejectedEvent(
                index=index, event_id=event.event_id, reason=f"event {index} of the batch: {reason}"
            )
        )
    rejected.sort(key=lambda r: r.index)
    if pending:
        response.status_code = 202
    return EventsOut(
        received=len(items),
        stored=outcome.written,
        duplicates=0 if written is None else len(checked) - written.written - len(written.rejected),
        pending=pending,
        rejected_count=len(rejected),
        rejected=rejected,
    )


def _event(event: EventIn) -> Event:
    return Event(**event.model_dump())


def _stored_searches(components: Components, request_ids: set[str]) -> tuple[set[str], bool]:
    """``(request ids with a stored search, whether the store answered)``."""
    if not request_ids:
        return set(), True
    if components.spool is None:
        return components.event_log.known_request_ids(request_ids), True
    try:
        return components.event_log.known_request_ids(request_ids), True
    except STORE_DOWN:
        return set(), False


def _write(components: Components, batch: list[tuple[int, EventIn]]) -> InsertOutcome | None:
    """Store ``batch`` (or spool it: None); ``SpoolUnavailable`` (503) when neither can."""
    events = [_event(e) for _, e in batch]
    if not events:
        return InsertOutcome()
    if components.spool is None:
        outcome = components.event_log.store_events(events)
        EVENTS_STORED.inc(outcome.written)
        return outcome
    return components.spool.write_events(events)


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
