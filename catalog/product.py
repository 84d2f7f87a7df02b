"""The product record every reader produces and every backend indexes."""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from catalog.locales import canonical_locale

# Limits keep one bad record from blowing up an index or a rerank batch.
MAX_ID_CHARS = 256
MAX_TITLE_CHARS = 1_000
MAX_DESCRIPTION_CHARS = 20_000
MAX_BULLETS = 50
MAX_BULLET_CHARS = 1_000

ShortText = Annotated[str, Field(max_length=MAX_TITLE_CHARS)]


class Product(BaseModel):
    """One sellable product in one locale."""

    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)

    id: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    locale: str
    title: str = Field(min_length=1, max_length=MAX_TITLE_CHARS)
    description: str = Field("", max_length=MAX_DESCRIPTION_CHARS)
    brand: ShortText = ""
    category: ShortText = Field("", description="Breadcrumb path, levels joined by ' > '.")
    bullets: list[Annotated[str, Field(max_length=MAX_BULLET_CHARS)]] = Field(
        default_factory=list, max_length=MAX_BULLETS
    )
    price: float = Field(ge=0)
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. EUR.")
    in_stock: bool = True
    localized_titles: dict[str, ShortText] = Field(default_factory=dict)

    @field_validator("locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        return canonical_locale(value)

    @field_validator("localized_titles")
    @classmethod
    def _known_title_locales(cls, value: dict[str, str]) -> dict[str, str]:
        return {canonical_locale(locale): title for locale, title in value.items() if title}

    @field_validator("price")
    @classmethod
    def _finite_price(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    @field_validator("id")
    @classmethod
    def _printable_id(cls, value: str) -> str:
        # Every other whitespace and control character is unprintable: one C-level check.
        if " " in value or not value.isprintable():
            raise ValueError("must not contain whitespace or control characters")
        return value

    @property
    def category_path(self) -> list[str]:
        """Every ancestor of the category, shortest first ("A", "A > B", "A > B > C")."""
        levels = category_levels(self.category)
        return [" > ".join(levels[: i + 1]) for i in range(len(levels))]


def category_levels(category: str) -> list[str]:
    """The levels of a breadcrumb category, spaces trimmed: "A >  B" -> ["A", "B"]."""
    return [level.strip() for level in category.split(">") if level.strip()]


def describe_validation_error(error: ValidationError) -> str:
    """One line naming each bad field and why, e.g. ``price: Input should be >= 0 (got -3)``."""
    parts = []
    for item in error.errors(include_url=False):
        field = ".".join(str(part) for part in item["loc"]) or "record"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "missing":
            parts.append(f"{field}: required field is missing")
        elif item["type"] == "model_type":
            parts.append("record: expected a JSON object")
        else:
            got = repr(item.get("input"))
            got = got if len(got) <= 60 else got[:57] + "..."
            parts.append(f"{field}: {message} (got {got})")
    return "; ".join(parts)
