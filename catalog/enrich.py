"""From a source record to a Product: field mapping, HTML to text, the locale when it is missing,
validation.

HTML in the text fields (Shopify's ``Body (HTML)``) is reduced to the text it shows
(``catalog.markup``) before anything reads it: language detection, analysis, the rerank text.

A record with no locale gets one from its text: lingua (``catalog.language``) names the language of
the title and the start of the description, and ``DEFAULT_LOCALES`` turns the language into that
language's main market (``de`` -> ``de-DE``). A record whose language cannot be told is rejected,
since a product analysed as the wrong language is silently unfindable; but a record without a
title is rejected for its title, not for the locale its missing title could not tell.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from catalog.language import detect_language
from catalog.limits import excerpt
from catalog.locales import DEFAULT_LOCALES
from catalog.mapping import IDENTITY, FieldMapping
from catalog.markup import html_to_text
from catalog.product import Product, validation_problems
from catalog.readers import SourceRecord
from catalog.variants import row_lines

DETECTION_TEXT_CHARS = 400  # the title and this much description are enough to tell a language
ONE_LINE_FIELDS = ("title", "brand", "category")
UNDETECTED_LOCALE = (
    "missing, and the language of the title and description could not be detected. Add a "
    "locale (e.g. en-US) to the record or to the mapping's defaults"
)


@dataclass(frozen=True)
class Reject:
    """A record that was not indexed: where it starts, why, and the record as it was read, cut to
    ``catalog.limits.excerpt`` (its start and length) when it is long."""

    line_no: int
    reason: str
    raw: str | dict[str, Any]

    def __post_init__(self) -> None:
        object.__setattr__(self, "raw", excerpt(self.raw))


def detected_locale(fields: dict[str, Any]) -> str | None:
    """The default locale of the language the record's title and description are written in."""
    text = " ".join(
        str(fields.get(name) or "")[:DETECTION_TEXT_CHARS] for name in ("title", "description")
    ).strip()
    guess = detect_language(text) if text else None
    return DEFAULT_LOCALES.get(guess[0]) if guess else None


def plain_text(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields with HTML in any text field reduced to its text (a new dict; pure)."""
    cleaned = dict(fields)
    for name in ONE_LINE_FIELDS:
        if isinstance(cleaned.get(name), str):
            cleaned[name] = html_to_text(cleaned[name], one_line=True)
    if isinstance(cleaned.get("description"), str):
        cleaned["description"] = html_to_text(cleaned["description"])
    if isinstance(cleaned.get("bullets"), list):
        bullets = (html_to_text(b, one_line=True) if isinstance(b, str) else b
                   for b in cleaned["bullets"])  # fmt: skip
        cleaned["bullets"] = [b for b in bullets if b != ""]
    elif isinstance(cleaned.get("bullets"), str):
        cleaned["bullets"] = html_to_text(cleaned["bullets"], one_line=True)
    if isinstance(cleaned.get("localized_titles"), dict):
        cleaned["localized_titles"] = {
            locale: html_to_text(title, one_line=True) if isinstance(title, str) else title
            for locale, title in cleaned["localized_titles"].items()
        }
    return cleaned


def to_product(record: SourceRecord, mapping: FieldMapping = IDENTITY) -> Product | Reject:
    """Map, enrich and validate one source record into a Product, or say why it cannot be one.

    A reject's reason names every bad field, the locale last; a product folded from several rows
    (``catalog.variants``) also names their lines.
    """
    if record.data is None:
        return Reject(record.line_no, record.error or "unreadable record", record.raw)
    fields = mapping.apply(record.data) if mapping is not IDENTITY else record.data
    fields = plain_text(fields)
    if not fields.get("locale"):
        fields = {key: value for key, value in fields.items() if key != "locale"}
        locale = detected_locale(fields)
        if locale is not None:
            fields["locale"] = locale
    try:
        return Product.model_validate(fields)
    except ValidationError as exc:
        return Reject(record.line_no, _reason(exc, record.raw), record.raw)


def _reason(error: ValidationError, raw: object) -> str:
    problems = validation_problems(error)
    faults = [(field, problem) for field, problem in problems if field != "locale"]
    locale = [(field, problem) for field, problem in problems if field == "locale"]
    if locale and locale[0][1] == "required field is missing":
        # Undetected; but with no usable title that is a consequence, not a fault of its own.
        title_bad = any(field == "title" for field, _ in faults)
        locale = [] if title_bad else [("locale", UNDETECTED_LOCALE)]
    reason = "; ".join(f"{field}: {problem}" for field, problem in faults + locale)
    lines = row_lines(raw)
    if lines and len(lines) > 1:
        reason += f" (the product's rows are on lines {', '.join(map(str, lines))})"
    return reason
