"""``GET /suggest``: completions of a prefix (autocomplete), public like ``/search``; and
``/suggest/blocks``, the operator's blocklist (``search.suggest.blocklist``), behind the API key.

Answered from the snapshot the background rebuild keeps (``search.suggest.service``): no store
and no product index is read on the request path. A blocklist change rebuilds this process's
snapshot at once; other servers apply it within ``SHELF_SUGGEST_REFRESH_S`` seconds.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from catalog.locales import canonical_locale, language_of
from search.api.components import Components, components_of, settings_of
from search.api.middleware.limits import check_query_text
from search.api.models import ERROR_RESPONSES
from search.api.security import require_api_key
from search.errors import ConfigError, InvalidQuery, LimitExceeded
from search.query.input_text import FreeText
from search.settings import Settings
from search.suggest.blocklist import MAX_PHRASE_CHARS, BlockedPhrase, BlockStore
from search.suggest.service import Suggestions, SuggestSnapshot

router = APIRouter(tags=["suggest"])


class SuggestionOut(BaseModel):
    """One completion: its text, the witnesses who searched it with results (0: from the
    catalog only), products whose brand, category or title holds it, and whether it matched
    the prefix with one typo."""

    text: str
    users: int = Field(
        ge=0,
        description="Witnesses of the query: distinct client networks, or shoppers of events "
        "joined to its searches, whichever is more (0: from the catalog only)",
    )
    products: int = Field(ge=0)
    typo: bool


class SuggestOut(BaseModel):
    """The completions of ``q``, best first, and when the suggestions were last built."""

    q: str
    locale: str | None
    language: str | None
    suggestions: list[SuggestionOut]
    built_at: dt.datetime | None


@router.get("/suggest", response_model=SuggestOut, responses=ERROR_RESPONSES)
async def suggest(
    components: Annotated[Components, Depends(components_of)],
    settings: Annotated[Settings, Depends(settings_of)],
    q: Annotated[
        FreeText,
        Query(
            description="What the shopper typed so far (a prefix; CJK: its first characters). "
            "Empty: the most popular completions of the locale."
        ),
    ],
    locale: Annotated[
        str | None,
        Query(description="The shopper's locale (de-DE) or language (de). Absent: every language."),
    ] = None,
    limit: Annotated[int, Query(description="Most completions returned (default 10).")] = 10,
) -> SuggestOut:
    """Completions from popular queries that had results and from the catalog's words, ranked by
    witnesses (distinct client networks, or shoppers of joined events; never user ids), then by
    products, ties by text; typo-tolerant for Latin prefixes of 4+. Blocked phrases never."""
    check_query_text(q, settings)
    if not 1 <= limit <= settings.suggest_max_limit:
        raise LimitExceeded(
            f"limit must be between 1 and {settings.suggest_max_limit} "
            f"(SHELF_SUGGEST_MAX_LIMIT); got {limit}"
        )
    language = None
    if locale is not None:
        try:
            locale = canonical_locale(locale)
        except ValueError as exc:
            raise InvalidQuery(f"locale: {exc}") from None
        language = language_of(locale).code
    built = components.suggestions
    snapshot = built.get() if built is not None else SuggestSnapshot()
    found = snapshot.suggest(q, language, limit)
    return SuggestOut(
        q=q,
        locale=locale,
        language=language,
        suggestions=[SuggestionOut(**vars(s)) for s in found],
        built_at=snapshot.built_at,
    )


class BlockIn(BaseModel):
    """A phrase to block: no suggestion may be it or hold it as whole words."""

    model_config = ConfigDict(extra="forbid")

    phrase: FreeText = Field(min_length=1, max_length=MAX_PHRASE_CHARS)


class BlockOut(BlockedPhrase):
    """A blocked phrase; ``created``: false when its key was already blocked (kept as was)."""

    created: bool


class BlocksOut(BaseModel):
    """Every blocked phrase, by key."""

    blocked: list[BlockedPhrase]


KeyActor = Annotated[str, Depends(require_api_key)]
_BLOCK_RESPONSES = {**ERROR_RESPONSES, 404: ERROR_RESPONSES[422] | {"description": "Not blocked"}}


def _blocks(components: Components) -> tuple[Suggestions, BlockStore]:
    built = components.suggestions
    if built is None or built.blocks is None:
        raise ConfigError("suggestions are not set up in this process")
    return built, built.blocks


@router.get("/suggest/blocks", response_model=BlocksOut, responses=ERROR_RESPONSES)
def list_blocks(
    components: Annotated[Components, Depends(components_of)], _actor: KeyActor
) -> BlocksOut:
    """Every blocked phrase, with who blocked it and when."""
    return BlocksOut(blocked=_blocks(components)[1].entries())


@router.post("/suggest/blocks", response_model=BlockOut, status_code=201, responses=ERROR_RESPONSES)
def block_phrase(
    body: BlockIn,
    response: Response,
    components: Annotated[Components, Depends(components_of)],
    actor: KeyActor,
) -> BlockOut:
    """Block a phrase (any case, width or accents): it and every completion holding it as
    whole words leave the suggestions now (201; 200 when it was already blocked)."""
    suggestions, store = _blocks(components)
    entry, created = store.block(body.phrase, actor)
    suggestions.refresh()
    if not created:
        response.status_code = 200
    return BlockOut(**entry.model_dump(), created=created)


@router.delete("/suggest/blocks", response_model=BlockedPhrase, responses=_BLOCK_RESPONSES)
def unblock_phrase(
    components: Annotated[Components, Depends(components_of)],
    _actor: KeyActor,
    phrase: Annotated[
        FreeText, Query(max_length=MAX_PHRASE_CHARS, description="The phrase, any spelling.")
    ],
) -> BlockedPhrase:
    """Unblock a phrase (matched by its key, as blocking it was); 404 when it is not blocked."""
    suggestions, store = _blocks(components)
    entry = store.unblock(phrase)
    suggestions.refresh()
    return entry
