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

Exports that spread one product over several rows (Shopify: one row per variant, the product's
fields on the first row only) say so with ``group_by`` (the column whose consecutive equal values
are one product, e.g. ``"Handle"``) and ``variant_columns`` (columns read from every row of the
product; their field folds the values by ``VARIANT_FOLDS``: ``price`` the lowest, with
``price_max`` the highest; ``skus`` every one; ``in_stock`` whether any is). ``skip`` names
column values that keep a product out of the index (``{"Status": ["draft"]}``): such products are
counted as skipped, not rejected. ``catalog.variants`` does the grouping and skipping.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from catalog.errors import CatalogError
from catalog.product import Product, describe_validation_error

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
    group_by: str | None = Field(
        None, description="source column whose consecutive equal values are one product's rows"
    )
    variant_columns: list[str] = Field(
        default_factory=list, description="source columns read from every row of a product"
    )
    skip: dict[str, list[str]] = Field(
        default_factory=dict, description="source column -> values that keep a product out"
    )
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
        unfoldable = sorted(
            f"{column} -> {self.target(column)}"
            for column in self.variant_columns
            if self.target(column) not in VARIANT_FOLDS
        )
        if unfoldable:
            raise ValueError(
                f"variant_columns {unfoldable} map to fields that cannot hold several variants' "
                f"values; variant fields: {sorted(VARIANT_FOLDS)}"
            )
        if self.variant_columns and not self.group_by:
            raise ValueError("variant_columns needs group_by (the column naming the product)")
        return self

    def target(self, column: str) -> str:
        """The product field a source column maps to."""
        return self.fields.get(column, column)

    def including_skipped(self) -> FieldMapping:
        """This mapping without its ``skip`` rules (``shelf ingest --include-unpublished``)."""
        return self.model_copy(update={"skip": {}})

    def apply(self, record: dict[str, Any]) -> dict[str, Any]:
        """The product fields of one source record (pure: the record is not changed).

        A variant column's value may be the list of its product's rows' values (as
        ``catalog.variants`` folds them): each is read like a single value, then the list is
        folded by ``VARIANT_FOLDS``.
        """
        mapped: dict[str, Any] = {}
        for column, value in record.items():
            mapped[self.target(column)] = value
        for name in self.price_with_currency:
            mapped[name] = _each(mapped.get(name), lambda value: _price_currency(value, mapped))
        for name, translation in self.values.items():
            lowered = {key.lower(): result for key, result in translation.items()}
            mapped[name] = _each(mapped.get(name), partial(_translate, lowered))
        for name, separator in self.split.items():
            value = mapped.get(name)
            if isinstance(value, str):
                mapped[name] = [part.strip() for part in value.split(separator) if part.strip()]
        for column in self.variant_columns:
            name = self.target(column)
            if isinstance(mapped.get(name), list):
                for field, folded in VARIANT_FOLDS[name](mapped[name]).items():
                    if folded is None:  # no variant gave a value: absent, so defaults apply
                        mapped.pop(field, None)
                    else:
                        mapped[field] = folded
        if self.decimal_comma:
            for name in NUMBER_FIELDS:
                value = mapped.get(name)
                if isinstance(value, str) and (number := decimal_comma_number(value)):
                    mapped[name] = number
        for name, default in self.defaults.items():
            if mapped.get(name) in (None, ""):
                mapped[name] = default
        return mapped


def _each(value: Any, read: Callable[[str], Any]) -> Any:
    """``read`` applied to a string, or to each string of a list (a product's variant values)."""
    if isinstance(value, str):
        return read(value)
    if isinstance(value, list):
        return [read(item) if isinstance(item, str) else item for item in value]
    return value


def _translate(translation: dict[str, Any], value: str) -> Any:
    return translation.get(value.strip().lower(), value)


def _price_currency(value: str, mapped: dict[str, Any]) -> str:
    """``"15.00 USD"`` -> ``"15.00"``, with ``currency`` set in ``mapped`` if not yet there."""
    if " " not in value.strip():
        return value
    amount, currency = value.strip().rsplit(" ", 1)
    if not currency.isalpha():  # "1 234,56": a decimal-comma price with no currency
        return value
    mapped.setdefault("currency", currency.strip().upper())
    return amount.strip()


def _fold_price(values: list[Any]) -> dict[str, Any]:
    """The lowest variant price as ``price``, the highest as ``price_max`` when they differ.

    A value that is not a number is kept as ``price``, so validation names it.
    """
    if not values:
        return {"price": None}
    numbers: list[float] = []
    for value in values:
        try:
            numbers.append(float(value))
        except (TypeError, ValueError):
            return {"price": value}
    low, high = min(numbers), max(numbers)
    return {"price": low, "price_max": high if high > low else None}


def _fold_skus(values: list[Any]) -> dict[str, Any]:
    return {"skus": values}


def _fold_in_stock(values: list[Any]) -> dict[str, Any]:
    truthy = {True, "true", "1", "yes", "y", "on"}
    flags = [v.strip().lower() if isinstance(v, str) else v for v in values]
    return {"in_stock": any(flag in truthy for flag in flags) if flags else None}


# How a field holding several variants' values becomes the product's: what ``variant_columns`` may
# map to. Each returns the product fields it sets.
VARIANT_FOLDS: dict[str, Callable[[list[Any]], dict[str, Any]]] = {
    "price": _fold_price,
    "skus": _fold_skus,
    "in_stock": _fold_in_stock,
}


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
