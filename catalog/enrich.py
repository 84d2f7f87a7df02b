"""From a source record to a Product: field mapping, validation, and the locale when it is missing.

A record with no locale gets one from its text: lingua (``catalog.language``) names the language of
the title and the start of the description, and ``DEFAULT_LOCALES`` turns the language into that
language's main market (``de`` -> ``de-DE``). A record whose language cannot be told is rejected,
since a product analysed as the wrong language is silently unfindable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from catalog.language import detect_language
from catalog.locales import DEFAULT_LOCALES
from catalog.mapping import IDENTITY, FieldMapping
from catalog.product import Product, describe_validation_error
from catalog.readers import SourceRecord

DETECTION_TEXT_CHARS = 400  # the title and this much description are enough to tell a language


@dataclass(frozen=True)
class Reject:
    """A record that was not indexed: where it starts, why, and the record as it was read."""

    line_no: int
    reason: str
    raw: str | dict[str, Any]


def detected_locale(fields: dict[str, Any]) -> str | None:
    """The default locale of the language the record's title and description are written in."""
    text = " ".join(
        str(fields.get(name) or "")[:DETECTION_TEXT_CHARS] for name in ("title", "description")
    ).strip()
    guess = detect_language(text) if text else None
    return DEFAULT_LOCALES.get(guess[0]) if guess else None


def to_product(record: SourceRecord, mapping: FieldMapping = IDENTITY) -> Product | Reject:
    """Map, enrich and validate one source record into a Product, or say why it cannot be one."""
    if record.data is None:
        return Reject(record.line_no, record.error or "unreadable record", record.raw)
    fields = mapping.apply(record.data) if mapping is not IDENTITY else record.data
    if not fields.get("locale"):
        locale = detected_locale(fields)
        if locale is None:
            return Reject(
                record.line_no,
                "locale: missing, and the language of the title and description could not be "
                "detected; add a locale (e.g. en-US) to the record or to the mapping's defaults",
                record.raw,
            )
        fields = {**fields, "locale": locale}
    try:
        return Product.model_validate(fields)
    except ValidationError as exc:
        return Reject(record.line_no, describe_validation_error(exc), record.raw)
