"""Field mappings: how the columns of a shop's export become ``Product`` fields.

A mapping is a small JSON file (see ``catalog/mappings/`` for a Shopify-like CSV export and a
Google Merchant feed)::

    {
      "fields": {"Handle": "id", "Title": "title", "Variant Price": "price"},
      "split": {"bullets": "|"},
      "price_with_currency": ["price"],
      "values": {"in_stock": {"in stock": true, "out of stock": false}},
      "defaults": {"currency": "USD"}
    }

``fields`` renames source columns (columns it does not name keep their own name), ``split`` cuts
one string into a list, ``price_with_currency`` reads ``"15.00 USD"`` into ``price`` and
``currency``, ``values`` translates a field's values (case-insensitively), and ``defaults`` fills
fields the record leaves empty. Without a mapping file, records are read as they are.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from catalog.product import Product, describe_validation_error
from search.errors import CatalogError

MAPPINGS_DIR = Path(__file__).resolve().parent / "mappings"


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
