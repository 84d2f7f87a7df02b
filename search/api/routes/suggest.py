"""``GET /suggest``: completions of a prefix (autocomplete), public like ``/search``.

Answered from the snapshot the background rebuild keeps (``search.suggest.service``): no store
and no product index is read on the request path.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from catalog.locales import canonical_locale, language_of
from search.api.components import Components, components_of, settings_of
from search.api.middleware.limits import check_query_text
from search.api.models import ERROR_RESPONSES
from search.errors import InvalidQuery, LimitExceeded
from search.query.input_text import FreeText
from search.settings import Settings
from search.suggest.service import SuggestSnapshot

router = APIRouter(tags=["suggest"])


class SuggestionOut(BaseModel):
    """One completion: its text, distinct users who searched it with results (0: from the
    catalog only), products whose brand, category or title holds it, and whether it matched
    the prefix with one typo."""

    text: str
    users: int = Field(ge=0)
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
    distinct users, then by products, ties by text; typo-tolerant for Latin prefixes of 4+."""
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
