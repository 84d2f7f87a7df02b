"""The product record every reader produces and every backend indexes."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Mapping
from functools import cached_property
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from catalog.locales import canonical_locale

# Limits keep one bad record from blowing up an index or a rerank batch.
MAX_ID_CHARS = 256
MAX_TITLE_CHARS = 1_000
MAX_DESCRIPTION_CHARS = 20_000
MAX_BULLETS = 50
MAX_BULLET_CHARS = 1_000
MAX_SKUS = 2_048  # Shopify's limit on variants per product
MAX_SKU_CHARS = 255
MAX_PRICE = 1e9  # in the catalog currency's units: above it, a price is a mistake (1e300)

# The sane range of every number a Product has, one entry per numeric field (a test checks that
# none is missing): a value outside it, or not finite, rejects the record, naming both.
NUMBER_RANGES: dict[str, tuple[float, float]] = {
    "price": (0.0, MAX_PRICE),
    "price_max": (0.0, MAX_PRICE),
}

# Google Merchant Center's availability values (schema.org's ItemAvailability has the same four).
# Only "in_stock" can be bought and shipped now, so only it makes ``in_stock`` true; preorder and
# backorder products stay findable (the in-stock filter is off by default) and say which they are.
Availability = Literal["in_stock", "out_of_stock", "preorder", "backorder"]
AVAILABILITIES: tuple[str, ...] = ("in_stock", "out_of_stock", "preorder", "backorder")

ShortText = Annotated[str, Field(max_length=MAX_TITLE_CHARS)]


class Product(BaseModel):
    """One sellable product in one locale."""

    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)

    @cached_property
    def content_hash(self) -> str:
        """``catalog.text.content_hash`` of this (frozen) product, computed once."""
        return compute_content_hash(self)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy; the cached content hash is dropped, since ``update`` may change the record."""
        copy = super().model_copy(update=update, deep=deep)
        copy.__dict__.pop("content_hash", None)
        return copy

    id: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    locale: str
    title: str = Field(min_length=1, max_length=MAX_TITLE_CHARS)
    description: str = Field("", max_length=MAX_DESCRIPTION_CHARS)
    brand: ShortText = ""
    category: ShortText = Field("", description="Breadcrumb path, levels joined by ' > '.")
    bullets: list[Annotated[str, Field(max_length=MAX_BULLET_CHARS)]] = Field(
        default_factory=list, max_length=MAX_BULLETS
    )
    price: float = Field(
        description="The price, or the lowest of its variants' prices.",
        json_schema_extra={"minimum": 0, "maximum": MAX_PRICE},
    )
    price_max: float | None = Field(
        None,
        description="The highest variant price when variants' prices differ.",
        json_schema_extra={"minimum": 0, "maximum": MAX_PRICE},
    )
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. EUR.")
    in_stock: bool = True
    availability: Availability | None = Field(
        None, description="Google Merchant's availability; sets in_stock when that is not given."
    )
    skus: list[Annotated[str, Field(min_length=1, max_length=MAX_SKU_CHARS)]] = Field(
        default_factory=list, max_length=MAX_SKUS, description="The variants' SKUs, in order."
    )
    localized_titles: dict[str, ShortText] = Field(default_factory=dict)
    created_at: dt.datetime | None = Field(
        None, description="When the product was first listed (ISO 8601); sort=newest orders by it."
    )
    updated_at: dt.datetime | None = Field(None, description="When the record last changed.")

    @model_validator(mode="before")
    @classmethod
    def _in_stock_from_availability(cls, data: Any) -> Any:
        given = isinstance(data, dict) and data.get("availability") not in (None, "")
        if given and data.get("in_stock") in (None, ""):
            value = _availability(data["availability"])
            return {**data, "in_stock": value == "in_stock"} if value else data
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Product:
        if self.availability is not None and self.in_stock != (self.availability == "in_stock"):
            raise ValueError(
                f"in_stock {self.in_stock} contradicts availability {self.availability!r}; "
                "give one of them"
            )
        if self.price_max is not None and self.price_max < self.price:
            raise ValueError(f"price_max {self.price_max} is below price {self.price}")
        return self

    @field_validator("availability", mode="before")
    @classmethod
    def _availability_spelling(cls, value: Any) -> Any:
        if value in (None, ""):
            return None
        spelled = _availability(value)
        if spelled is None:
            raise ValueError(
                f"must be one of {', '.join(AVAILABILITIES)} (spaces, hyphens, case forgiven)"
            )
        return spelled

    @field_validator("skus", mode="before")
    @classmethod
    def _sku_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list):  # blanks dropped, repeats kept once, order kept
            stripped = [s.strip() if isinstance(s, str) else s for s in value]
            return list(dict.fromkeys(s for s in stripped if s != ""))
        return value

    @field_validator("locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        return canonical_locale(value)

    @field_validator("localized_titles")
    @classmethod
    def _known_title_locales(cls, value: dict[str, str]) -> dict[str, str]:
        return {canonical_locale(locale): title for locale, title in value.items() if title}

    @field_validator("created_at", "updated_at", mode="before")
    @classmethod
    def _blank_time(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("created_at", "updated_at")
    @classmethod
    def _utc_time(cls, value: dt.datetime | None) -> dt.datetime | None:
        # A time without a zone is read as UTC, so one instant has one sort key everywhere.
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)

    @field_validator(*NUMBER_RANGES, mode="before")
    @classmethod
    def _huge_int(cls, value: Any, info: ValidationInfo) -> Any:
        # An integer too large for a float would fail as "not a valid number": it is one.
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 1e300:
            raise ValueError(_range_error(str(info.field_name)))
        return value

    @field_validator(*NUMBER_RANGES)
    @classmethod
    def _in_range(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is None:
            return None
        low, high = NUMBER_RANGES[str(info.field_name)]
        if not (math.isfinite(value) and low <= value <= high):
            raise ValueError(_range_error(str(info.field_name)))
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


def _range_error(field: str) -> str:
    low, high = NUMBER_RANGES[field]
    return f"must be a finite number from {low:,.15g} to {high:,.15g}"


_AVAILABILITY_KEYS = {name.replace("_", ""): name for name in AVAILABILITIES}


def _availability(value: object) -> str | None:
    """Merchant's ``in_stock`` in any spelling (``in stock``, ``In-Stock``, schema.org's
    ``InStock`` or ``https://schema.org/InStock``) -> ``"in_stock"``; None if not one of them."""
    if not isinstance(value, str):
        return None
    word = value.strip().rsplit("/", 1)[-1]
    return _AVAILABILITY_KEYS.get("".join(ch for ch in word.lower() if ch.isalnum()))


def category_levels(category: str) -> list[str]:
    """The levels of a breadcrumb category, spaces trimmed: "A >  B" -> ["A", "B"]."""
    return [level.strip() for level in category.split(">") if level.strip()]


def describe_validation_error(error: ValidationError) -> str:
    """One line naming each bad field and why, e.g. ``price: Input should be >= 0 (got -3)``."""
    return "; ".join(f"{field}: {problem}" for field, problem in validation_problems(error))


def validation_problems(error: ValidationError) -> list[tuple[str, str]]:
    """Each bad field (dotted path, ``record`` for the whole) and what is wrong with it."""
    problems = []
    for item in error.errors(include_url=False):
        field = ".".join(str(part) for part in item["loc"]) or "record"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "missing":
            problems.append((field, "required field is missing"))
        elif item["type"] == "model_type":
            problems.append(("record", "expected a JSON object"))
        elif not item["loc"]:  # a rule over several fields: the message names them
            problems.append((field, message))
        else:
            got = repr(item.get("input"))
            got = got if len(got) <= 60 else got[:57] + "..."
            problems.append((field, f"{message} (got {got})"))
    return problems


# Fields added after products were first hashed: left out at their defaults, so a product that
# does not use them keeps the hash it had, and re-ingesting an old catalog rewrites nothing.
_ADDED_FIELDS: dict[str, object] = {
    "price_max": None,
    "availability": None,
    "skus": [],
    "created_at": None,
    "updated_at": None,
}


def compute_content_hash(product: Product) -> str:
    """``catalog.text.content_hash``'s computation (``Product.content_hash`` caches it)."""
    fields = product.model_dump(mode="json")
    for name, default in _ADDED_FIELDS.items():
        if fields[name] == default:
            del fields[name]
    canonical = json.dumps(fields, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
