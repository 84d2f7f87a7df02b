"""Merchandising rules: what a shop says about one query (pin, hide, boost, bury), as pydantic
models, with the checks that need nothing but the rules themselves.

A rule is a condition and actions, optionally limited to a time window:

- condition: the query ``equals`` or ``contains`` a phrase, for one language or all. Query and
  phrase are compared as word sequences after ``normalize_query`` (NFC, control characters
  dropped, whitespace collapsed) and ``normalize_phrase`` (NFKC, case folding); words are Unicode
  ``\\w+`` runs, so ``contains`` never matches part of a word and punctuation never counts
  (``T-Shirt`` equals ``t shirt``). A run of CJK characters is one word.
- actions: pin product ids at 1-based positions, hide product ids, multiply the score of a brand
  or category (an ancestor counts) by a factor (above 1 boosts, below 1 buries).
- ``start`` / ``end``: timezone-aware; the rule applies from ``start`` (inclusive) until ``end``
  (exclusive), judged at search time.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from catalog.locales import canonical_locale, language_of
from catalog.product import category_levels
from search.query.input_text import FreeText, Identifier
from search.query.normalize import normalize_query
from search.recall.filters import brand_key
from search.synonyms.model import normalize_phrase

MAX_POSITION = 100  # a pin beyond the first pages is not merchandising
MAX_PINS = 50
MAX_HIDDEN = 1000
MAX_BOOSTS = 20
MIN_FACTOR, MAX_FACTOR = 0.01, 100.0  # beyond these a boost is a pin or a hide in disguise
MAX_PHRASE_CHARS = 200
_WORD = re.compile(r"\w+")

RuleId = Annotated[
    Identifier, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$", examples=["black-friday"])
]
ProductId = Annotated[Identifier, Field(min_length=1, max_length=256)]


def query_words(text: str) -> tuple[str, ...]:
    """The words a rule compares: ``\\w+`` runs of the normalised, case-folded text."""
    return tuple(_WORD.findall(normalize_phrase(text)))


class Condition(BaseModel):
    """When a rule applies: the query ``equals`` or ``contains`` (on word boundaries) ``phrase``,
    in ``language`` (a language code, or a locale reduced to its language) or in any (null)."""

    model_config = ConfigDict(extra="forbid")

    match: Literal["equals", "contains"]
    phrase: FreeText = Field(min_length=1, max_length=MAX_PHRASE_CHARS)
    language: Identifier | None = Field(
        None, max_length=35, description="de, de-DE (kept as de) or null for every language."
    )

    @field_validator("phrase")
    @classmethod
    def _normalised(cls, value: str) -> str:
        text = normalize_phrase(normalize_query(value))
        if not _WORD.search(text):
            raise ValueError("the phrase holds no word (letters or digits)")
        return text

    @field_validator("language")
    @classmethod
    def _language(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return language_of(canonical_locale(value)).code
        except (KeyError, ValueError):
            raise ValueError(f"{value!r} is not a language Shelf analyses") from None

    @property
    def words(self) -> tuple[str, ...]:
        """The phrase's words."""
        return query_words(self.phrase)


class Pin(BaseModel):
    """Show ``product_id`` at ``position`` (1-based, over the whole answer)."""

    model_config = ConfigDict(extra="forbid")

    product_id: ProductId
    position: int = Field(ge=1, le=MAX_POSITION)


class Boost(BaseModel):
    """Multiply the score of products of a brand (compared as filters compare brands) or a
    category (the category or any descendant) by ``factor``: above 1 boosts, below 1 buries."""

    model_config = ConfigDict(extra="forbid")

    field: Literal["brand", "category"]
    value: Identifier = Field(min_length=1, max_length=200)
    factor: float = Field(ge=MIN_FACTOR, le=MAX_FACTOR, allow_inf_nan=False)

    @model_validator(mode="after")
    def _canonical(self) -> Boost:
        if self.factor == 1:
            raise ValueError("factor 1 changes nothing: above 1 boosts, below 1 buries")
        value = (
            brand_key(self.value)
            if self.field == "brand"
            else " > ".join(category_levels(self.value))
        )
        if not value:
            raise ValueError(f"value names no {self.field}")
        self.value = value
        return self


class Actions(BaseModel):
    """What a rule does; at least one action. Within a rule a position, and a product, is
    pinned once, and no product is both pinned and hidden."""

    model_config = ConfigDict(extra="forbid")

    pins: list[Pin] = Field(default_factory=list, max_length=MAX_PINS)
    hide: list[ProductId] = Field(default_factory=list, max_length=MAX_HIDDEN)
    boosts: list[Boost] = Field(default_factory=list, max_length=MAX_BOOSTS)

    @model_validator(mode="after")
    def _consistent(self) -> Actions:
        if not (self.pins or self.hide or self.boosts):
            raise ValueError("a rule needs at least one action: pins, hide or boosts")
        positions = [pin.position for pin in self.pins]
        twice = sorted({p for p in positions if positions.count(p) > 1})
        if twice:
            raise ValueError(f"position {twice[0]} is pinned twice")
        pinned = [pin.product_id for pin in self.pins]
        again = sorted({p for p in pinned if pinned.count(p) > 1})
        if again:
            raise ValueError(f"product {again[0]!r} is pinned twice")
        both = sorted(set(pinned) & set(self.hide))
        if both:
            raise ValueError(f"product {both[0]!r} is both pinned and hidden")
        self.hide = list(dict.fromkeys(self.hide))
        return self

    def product_ids(self) -> list[str]:
        """Every product id the actions name."""
        return [pin.product_id for pin in self.pins] + list(self.hide)


class RuleSpec(BaseModel):
    """A rule as written by its author (the API body, one line of an import)."""

    model_config = ConfigDict(extra="forbid")

    id: RuleId
    description: FreeText = Field("", max_length=2000)
    enabled: bool = True
    condition: Condition
    actions: Actions
    start: AwareDatetime | None = Field(None, description="ISO 8601 with an offset; inclusive.")
    end: AwareDatetime | None = Field(None, description="ISO 8601 with an offset; exclusive.")

    @model_validator(mode="after")
    def _window(self) -> RuleSpec:
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise ValueError(
                f"start ({self.start.isoformat()}) must be before end ({self.end.isoformat()})"
            )
        return self

    def active(self, now: dt.datetime) -> bool:
        """Enabled, started and not ended at ``now`` (timezone-aware)."""
        return (
            self.enabled
            and (self.start is None or self.start <= now)
            and (self.end is None or now < self.end)
        )


class Rule(RuleSpec):
    """A stored rule: its spec and when it was created and last changed."""

    created_at: dt.datetime
    updated_at: dt.datetime


def windows_overlap(a: RuleSpec, b: RuleSpec) -> bool:
    """Whether the two rules' time windows share an instant (an open end is unbounded)."""
    starts_before_b_ends = a.start is None or b.end is None or a.start < b.end
    b_starts_before_a_ends = b.start is None or a.end is None or b.start < a.end
    return starts_before_b_ends and b_starts_before_a_ends


def contains_words(words: tuple[str, ...], part: tuple[str, ...]) -> bool:
    """Whether ``part`` occurs in ``words`` as a contiguous run (word boundaries)."""
    n = len(part)
    return any(words[i : i + n] == part for i in range(len(words) - n + 1))


def may_match_together(a: Condition, b: Condition) -> bool:
    """Whether one query can satisfy both conditions: the languages agree (or one is every
    language), and equals/equals share the phrase, equals/contains contain it, contains/contains
    always (a query holding both phrases)."""
    if a.language is not None and b.language is not None and a.language != b.language:
        return False
    if a.match == "equals" and b.match == "equals":
        return a.words == b.words
    if a.match == "equals":
        return contains_words(a.words, b.words)
    if b.match == "equals":
        return contains_words(b.words, a.words)
    return True
