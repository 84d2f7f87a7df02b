"""``/synonyms``: list, add, read, change, delete and bulk-import synonym rules.

Every route needs the API key. A change made here is applied by this server's searches at once
(its snapshot is reloaded before the answer) and by every other server within
``SHELF_SYNONYMS_REFRESH_S``. Rules use Solr's text format (``search.synonyms.model``); each
belongs to a
language's set or, with ``language`` null, to the set of every language.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from search.api.components import Components, components_of
from search.api.errors import error_response
from search.api.models import ERROR_RESPONSES, ErrorDetail
from search.api.security import require_api_key
from search.errors import InvalidQuery
from search.query.input_text import FreeText, Identifier
from search.synonyms.model import SynonymRule, parse_synonym_line
from search.synonyms.store import (
    EVERY_LANGUAGE,
    LineReject,
    StoredSynonym,
    numbered_lines,
    parse_synonym_lines,
    rule_language,
)

_MAX_RULE_CHARS = 4000  # 32 terms of 100 characters and their separators
_MAX_REJECTS_IN_MESSAGE = 20
_MAX_ID = 2**31 - 1  # the id column is a 32-bit integer on PostgreSQL
SynonymId = Annotated[int, Path(ge=1, le=_MAX_ID, description="The rule's id.")]

router = APIRouter(
    tags=["synonyms"],
    dependencies=[Depends(require_api_key)],
    responses={**ERROR_RESPONSES, 404: ERROR_RESPONSES[422] | {"description": "No such id"}},
)

_LANGUAGE_HELP = (
    "The rule's language: a code or locale of a language Shelf analyses (de, de-CH: de), or "
    "null for every language."
)


def _language(value: str | None) -> str | None:
    return rule_language(value)  # ValueError: pydantic names the field


def _one_rule(value: str) -> str:
    if "\n" in value or "\r" in value:
        raise ValueError("holds a line break: one rule each (POST /synonyms/import takes many)")
    parse_synonym_line(value)  # ValueError saying what is wrong
    return value


class SynonymIn(BaseModel):
    """One rule in the text format: ``a, b, c`` (equivalent) or ``a, b => c`` (one-way)."""

    model_config = ConfigDict(extra="forbid")

    rule: FreeText = Field(max_length=_MAX_RULE_CHARS, examples=["sneakers, trainers"])
    language: Identifier | None = Field(None, max_length=35, description=_LANGUAGE_HELP)

    _check_rule = field_validator("rule")(_one_rule)
    _check_language = field_validator("language")(_language)

    def parsed(self) -> SynonymRule:
        """The rule, normalised, in its language."""
        return parse_synonym_line(self.rule, self.language)


class SynonymOut(BaseModel):
    """A stored rule."""

    id: int
    language: str | None = Field(description="Its language's code; null: every language.")
    rule: str = Field(description="The rule in the text format, terms normalised.")
    kind: Literal["equivalent", "one_way"]
    terms: list[str]
    replacements: list[str] = Field(description="A one-way rule's right side; [] if equivalent.")
    created_at: dt.datetime
    updated_at: dt.datetime
    served: bool = Field(
        description="Whether this server's searches apply it now (its snapshot of the store)."
    )


class SynonymsOut(BaseModel):
    """Rules by id, and how many match the filter in all."""

    synonyms: list[SynonymOut]
    total: int
    served_rules: int = Field(description="Rules (every set) this server's searches apply now.")


class SynonymImport(BaseModel):
    """Many rules for one set, as a list (``rules``) or as text, one rule per line (``text``;
    blank lines and ``#`` comments are skipped). All or nothing."""

    model_config = ConfigDict(extra="forbid")

    language: Identifier | None = Field(None, max_length=35, description=_LANGUAGE_HELP)
    rules: list[FreeText] | None = Field(None, max_length=1_000_000)
    text: FreeText | None = None
    replace: bool = Field(
        False, description="Also remove the set's rules that the import does not hold."
    )

    _check_language = field_validator("language")(_language)

    @model_validator(mode="after")
    def _one_source(self) -> SynonymImport:
        if (self.rules is None) == (self.text is None):
            raise ValueError("give the rules either as a list (rules) or as text (text)")
        return self


class ImportOut(BaseModel):
    """What an import did to its set."""

    language: str | None
    added: int
    unchanged: int = Field(description="Rules already in the set, or repeated in the import.")
    removed: int = Field(description="Rules removed by replace: true.")
    total: int = Field(description="Rules in the set now.")


class LineRejectOut(BaseModel):
    """A line that is not a rule."""

    line: int = Field(description="1-based: the line of text, or the position in rules.")
    rule: str
    reason: str


class ImportErrorDetail(ErrorDetail):
    """Every line that is not a rule (absent when the body itself was refused)."""

    rejects: list[LineRejectOut] = Field(default_factory=list)


class ImportErrorOut(BaseModel):
    """A refused import: nothing was applied."""

    error: ImportErrorDetail


def _out(stored: StoredSynonym, served: frozenset[SynonymRule]) -> SynonymOut:
    rule = stored.rule
    return SynonymOut(
        id=stored.id,
        language=rule.language,
        rule=rule.line(),
        kind="one_way" if rule.replacements else "equivalent",
        terms=list(rule.terms),
        replacements=list(rule.replacements),
        created_at=stored.created_at,
        updated_at=stored.updated_at,
        served=rule in served,
    )


def _served(components: Components) -> frozenset[SynonymRule]:
    return frozenset(components.synonyms.get().rules)


@router.get("/synonyms", response_model=SynonymsOut)
def list_synonyms(
    components: Annotated[Components, Depends(components_of)],
    language: Annotated[
        Identifier | None,
        Query(max_length=35, description="Only this set: a language, or * for every language."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
    offset: Annotated[int, Query(ge=0, le=_MAX_ID)] = 0,
) -> SynonymsOut:
    """Rules by id: every set, or one."""
    name = None
    if language is not None:
        try:
            name = rule_language(language) or EVERY_LANGUAGE
        except ValueError as exc:
            raise InvalidQuery(f"language: {exc}") from None
    store = components.synonym_store
    served = _served(components)
    return SynonymsOut(
        synonyms=[_out(s, served) for s in store.rules(name, limit=limit, offset=offset)],
        total=store.count(name),
        served_rules=len(served),
    )


@router.post("/synonyms", response_model=SynonymOut, status_code=201)
def create_synonym(
    body: SynonymIn, response: Response, components: Annotated[Components, Depends(components_of)]
) -> SynonymOut:
    """Add a rule (201). The same rule already in its set is not added again: 200 with it."""
    stored, created = components.synonym_store.create(body.parsed())
    if not created:
        response.status_code = 200
    components.synonyms.refresh()
    return _out(stored, _served(components))


@router.post(
    "/synonyms/import",
    response_model=ImportOut,
    responses={422: {"model": ImportErrorOut, "description": ERROR_RESPONSES[422]["description"]}},
)
def import_synonyms(
    body: SynonymImport, components: Annotated[Components, Depends(components_of)]
) -> Any:
    """Add many rules to one set in one transaction (``replace``: and remove the others). Any
    line that is not a rule refuses the whole import, 422 listing every such line."""
    rules, rejects = _parse(body)
    if rejects:
        return _rejected(rejects)
    outcome = components.synonym_store.import_rules(rules, body.language, replace_set=body.replace)
    components.synonyms.refresh()
    return ImportOut(**vars(outcome))


@router.get("/synonyms/{synonym_id}", response_model=SynonymOut)
def get_synonym(
    synonym_id: SynonymId, components: Annotated[Components, Depends(components_of)]
) -> SynonymOut:
    """One rule."""
    return _out(components.synonym_store.get(synonym_id), _served(components))


@router.put("/synonyms/{synonym_id}", response_model=SynonymOut)
def update_synonym(
    synonym_id: SynonymId,
    body: SynonymIn,
    components: Annotated[Components, Depends(components_of)],
) -> SynonymOut:
    """Replace a rule's text and language; 409 when its set already holds that rule."""
    stored = components.synonym_store.update(synonym_id, body.parsed())
    components.synonyms.refresh()
    return _out(stored, _served(components))


@router.delete("/synonyms/{synonym_id}", status_code=204, response_class=Response)
def delete_synonym(
    synonym_id: SynonymId, components: Annotated[Components, Depends(components_of)]
) -> Response:
    """Remove a rule."""
    components.synonym_store.delete(synonym_id)
    components.synonyms.refresh()
    return Response(status_code=204)


def _parse(body: SynonymImport) -> tuple[list[SynonymRule], list[LineReject]]:
    """The import's rules and every line that is not one. Text: blank lines and ``#`` comments
    are skipped. A list: every item is a rule (an empty one, or one with a line break, is not)."""
    if body.rules is None:
        return parse_synonym_lines(numbered_lines(body.text or ""), body.language)
    rules: list[SynonymRule] = []
    rejects: list[LineReject] = []
    for number, item in enumerate(body.rules, start=1):
        try:
            rules.append(parse_synonym_line(_one_rule(item), body.language))
        except ValueError as exc:
            rejects.append(LineReject(number, item, str(exc)))
    return rules, rejects


def _rejected(rejects: list[LineReject]) -> JSONResponse:
    shown = "; ".join(f"line {r.line}: {r.reason}" for r in rejects[:_MAX_REJECTS_IN_MESSAGE])
    more = len(rejects) - _MAX_REJECTS_IN_MESSAGE
    tail = f"; and {more} more (see rejects)" if more > 0 else ""
    return error_response(
        422,
        "InvalidSynonyms",
        f"{len(rejects)} line(s) are not rules; nothing was imported: {shown}{tail}",
        rejects=[
            LineRejectOut(line=r.line, rule=r.text, reason=r.reason).model_dump() for r in rejects
        ],
    )
