"""Field mappings: how the columns of a shop's export become ``Product`` fields.

A mapping is a small JSON file (see ``catalog/mappings/`` for a Shopify-like CSV export and a
Google Merchant feed)::

    {
      "fields": {"Handle": "id", "Title": "title", "Variant Price": "price"},
      "split": {"bullets": "|"},
      "price_with_currency": ["price"],
      "values": {"in_stock": {"in stock": true, "out of stock": false}},
      "defaults": {"currency": "USD"},
      "decimal_comma": false
    }

``fields`` renames source columns (columns it does not name keep their own name), ``split`` cuts
one string into a list, ``price_with_currency`` reads ``"15.00 USD"`` into ``price`` and
``currency``, ``values`` translates a field's values (case-insensitively), and ``defaults`` fills
fields the record leaves empty. ``decimal_comma`` reads prices written with a decimal comma
(``24,99``, ``1.234,56``, ``1 234,56``), as European spreadsheets export them (``shelf ingest
--decimal-comma`` sets it too). Without a mapping file, records are read as they are.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from catalog.product import Product, describe_validation_error
from search.errors import CatalogError

MAPPINGS_DIR = Path(__file__).resolve().parent / "mappings"
NUMBER_FIELDS = ("price",)  # the Product fields a decimal comma applies to
# A decimal-comma number: "24,99", "1.234,56", "1 234,56" (also with a no-break or thin space).
_DECIMAL_COMMA = re.compile(r"[+-]?(\d{1,3}([. \u00a0\u202f]\d{3})+|\d+)(,\d+)?")


def decimal_comma_number(value: str) -> str | None:
    """``"1.234,56"`` -> ``"1234.56"``; None when ``value`` is not a decimal-comma number."""
    text = value.strip()
    if not _DECIMAL_COMMA.fullmatch(text):
        return None
    whole, _, fraction = text.partition(",")
    whole = re.sub(r"[. \u00a0\u202f]", "", whole)
    return f"{whole}.{fraction}" if fraction else whole


def decimal_comma_hint(fields: dict[str, Any]) -> str | None:
    """What to do about a number written with a decimal comma the mapping does not expect."""
    for name in NUMBER_FIELDS:
        value = fields.get(name)
        if isinstance(value, str) and "," in value and decimal_comma_number(value) is not None:
            return (
                f"{name} {value.strip()!r} has a decimal comma: pass --decimal-comma or set "
                '"decimal_comma": true in the mapping'
            )
    return None


class FieldMapping(BaseModel):
    """How to turn one source record into the fields of a Product."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fields: dict[str, str] = Field(default_factory=dict, description="source column -> field")
    split: dict[str, str] = Field(default_factory=dict, description="list field -> separator")
    price_with_currency: list[str] = Field(
        default_factory=list, description='fields holding "<amount> <ISO 4217>", e.g. "15.00 USD"'
    )
    values: dict[str, dict[str, Any]] = Field(default_factory=dict)
    defaults: dict[str, Any] = Field(default_factory=dict)
    decimal_comma: bool = Field(False, description='prices as "1.234,56" rather than "1234.56"')

    @model_validator(mode="after")
    def _known_fields(self) -> FieldMapping:
        known = set(Product.model_fields)
        named = set(self.fields.values()) | set(self.split) | set(self.values) | set(self.defaults)
        unknown = sorted(named - known)
        if unknown:
            raise ValueError(
                f"maps to unknown product fields {unknown}; product fields: {sorted(known)}"
            )
        return self

    def apply(self, record: dict[str, Any]) -> dict[str, Any]:
        """The product fields of one source record (pure: the record is not changed)."""
        mapped: dict[str, Any] = {}
        for column, value in record.items():
            mapped[self.fields.get(column, column)] = value
        for name in self.price_with_currency:
            value = mapped.get(name)
            if isinstance(value, str) and " " in value.strip():
                amount, currency = value.strip().rsplit(" ", 1)
                if currency.isalpha():  # not "1 234,56", a decimal-comma price with no currency
                    mapped[name] = amount.strip()
                    mapped.setdefault("currency", currency.strip().upper())
        for name, translation in self.values.items():
            value = mapped.get(name)
            if isinstance(value, str):
                lowered = {key.lower(): result for key, result in translation.items()}
                mapped[name] = lowered.get(value.strip().lower(), value)
        for name, separator in self.split.items():
            value = mapped.get(name)
            if isinstance(value, str):
                mapped[name] = [part.strip() for part in value.split(separator) if part.strip()]
        if self.decimal_comma:
            for name in NUMBER_FIELDS:
                value = mapped.get(name)
                if isinstance(value, str) and (number := decimal_comma_number(value)):
                    mapped[name] = number
        for name, default in self.defaults.items():
            if mapped.get(name) in (None, ""):
                mapped[name] = default
        return mapped


IDENTITY = FieldMapping()


def load_mapping(path: Path) -> FieldMapping:
    """Read a mapping file, or raise CatalogError saying what in it is wrong."""
    try:
        return FieldMapping.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise CatalogError(f"cannot read mapping file {path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise CatalogError(f"mapping file {path} is not valid JSON: {exc}") from exc
    except ValidationError as exc:
        raise CatalogError(
            f"mapping file {path} is invalid: {describe_validation_error(exc)}; see the "
            "examples in catalog/mappings/"
        ) from exc
