"""``/rules``: merchandising rules (pin, hide, boost, bury for queries), and their audit trail.

Every route needs the API key. A change is recorded with who made it: the identity of the key
the request carried (``key:`` and 8 hex digits of its SHA-256, ``search.api.security``), never
a header a client sets; the ``X-Shelf-Actor`` header (a person's name or a tool's), when sent, is
kept as the change's free-text ``note``. The CLI records the OS user. This
process serves a change at once; other servers within ``SHELF_RULES_REFRESH_S`` seconds.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query
from pydantic import BaseModel, ConfigDict, Field

from search.api.components import Components, components_of
from search.api.models import ERROR_RESPONSES
from search.api.security import require_api_key
from search.errors import ConfigError, InvalidQuery
from search.merchandising.book import RuleBook, validate_entries
from search.merchandising.model import Rule, RuleSpec
from search.merchandising.store import AuditEntry
from search.query.input_text import Identifier, first_control_character

router = APIRouter(
    tags=["rules"],
    dependencies=[Depends(require_api_key)],  # cached: the routes' KeyActor is the same call
    responses={
        **ERROR_RESPONSES,
        404: ERROR_RESPONSES[422] | {"description": "No such rule"},
        409: ERROR_RESPONSES[422] | {"description": "The id is taken, or pins collide"},
    },
)

# Out of the schema like the key's headers: a header cannot carry control characters to test.
ActorHeader = Annotated[str | None, Header(alias="X-Shelf-Actor", include_in_schema=False)]
KeyActor = Annotated[str, Depends(require_api_key)]  # who the audit records


def note_of(header: str | None) -> str | None:
    """The audit's free-text note: the ``X-Shelf-Actor`` header (1-128 printable characters),
    else None; 422 naming the header otherwise. Never who made the change."""
    if header is None:
        return None
    name = header.strip()
    if not 1 <= len(name) <= 128 or first_control_character(name) is not None:
        raise InvalidQuery("X-Shelf-Actor: 1 to 128 characters, no control character")
    return name


class RulesOut(BaseModel):
    """Rules, by id."""

    rules: list[Rule]


class RulesImport(BaseModel):
    """Rules to create or replace together: all of them, or (any bad) none. ``replace``: also
    delete every stored rule the list does not hold."""

    model_config = ConfigDict(extra="forbid")

    rules: list[dict[str, Any]] = Field(min_length=1, max_length=1_000_000)
    replace: bool = False


class AuditOut(BaseModel):
    """Changes, newest first."""

    entries: list[AuditEntry]


def _book(components: Components) -> RuleBook:
    if components.rules is None:
        raise ConfigError("merchandising rules are not set up in this process")
    return components.rules


@router.get("/rules", response_model=RulesOut)
def list_rules(components: Annotated[Components, Depends(components_of)]) -> RulesOut:
    """Every rule, by id."""
    return RulesOut(rules=_book(components).rules())


@router.post("/rules", response_model=Rule, status_code=201)
def create_rule(
    body: RuleSpec,
    components: Annotated[Components, Depends(components_of)],
    actor: KeyActor,
    note: ActorHeader = None,
) -> Rule:
    """Store a new rule. 422: unknown product ids (named), bad positions, factor or window;
    409: the id is taken, or it pins another product at a position where an enabled rule that
    can match the same queries does."""
    return _book(components).create(body, actor, note=note_of(note))


@router.post("/rules/import", response_model=RulesOut)
def import_rules(
    body: RulesImport,
    components: Annotated[Components, Depends(components_of)],
    actor: KeyActor,
    note: ActorHeader = None,
) -> RulesOut:
    """Create or replace many rules in one transaction; every bad entry is named by its index
    (``rules[3]``) and nothing is changed."""
    specs, where = validate_entries(
        [(f"rules[{i}]", entry) for i, entry in enumerate(body.rules)], "rules"
    )
    book = _book(components)
    book.import_rules(specs, actor, replace=body.replace, where=where, note=note_of(note))
    return RulesOut(rules=book.rules())


@router.get("/rules/audit", response_model=AuditOut)
def audit(
    components: Annotated[Components, Depends(components_of)],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditOut:
    """The latest changes to any rule, newest first."""
    return AuditOut(entries=_book(components).audit(None, limit))


@router.get("/rules/{rule_id}", response_model=Rule)
def get_rule(
    rule_id: Identifier, components: Annotated[Components, Depends(components_of)]
) -> Rule:
    """One rule."""
    return _book(components).rule(rule_id)


@router.put("/rules/{rule_id}", response_model=Rule)
def update_rule(
    rule_id: Identifier,
    body: RuleSpec,
    components: Annotated[Components, Depends(components_of)],
    actor: KeyActor,
    note: ActorHeader = None,
) -> Rule:
    """Replace a rule (the same checks as creating it)."""
    if body.id != rule_id:
        raise InvalidQuery(f"id: the body names rule {body.id!r} but the path {rule_id!r}")
    return _book(components).update(body, actor, note=note_of(note))


@router.delete("/rules/{rule_id}", response_model=Rule)
def delete_rule(
    rule_id: Identifier,
    components: Annotated[Components, Depends(components_of)],
    actor: KeyActor,
    note: ActorHeader = None,
) -> Rule:
    """Delete a rule; answers it as it was."""
    return _book(components).delete(rule_id, actor, note=note_of(note))


@router.get("/rules/{rule_id}/audit", response_model=AuditOut)
def rule_audit(
    rule_id: Identifier,
    components: Annotated[Components, Depends(components_of)],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditOut:
    """The latest changes to one rule (deleted ones too), newest first; 404 for an id that no
    rule ever had."""
    return AuditOut(entries=_book(components).audit(rule_id, limit))
