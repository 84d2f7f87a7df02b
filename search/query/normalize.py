"""Query normalisation: what every backend and cache sees instead of the raw shopper text."""

from __future__ import annotations

import re
import unicodedata

from search.errors import InvalidQuery

MAX_QUERY_CHARS = 500
_SPACE = re.compile(r"\s+")


def normalize_query(query: str) -> str:
    """NFC, control characters dropped, whitespace collapsed; rejects empty and huge queries."""
    if len(query) > MAX_QUERY_CHARS * 4:
        raise InvalidQuery(f"query is {len(query)} characters; the limit is {MAX_QUERY_CHARS}")
    text = unicodedata.normalize("NFC", query)
    text = "".join(ch if ch.isprintable() or ch.isspace() else " " for ch in text)
    text = _SPACE.sub(" ", text).strip()
    if not text:
        raise InvalidQuery("query is empty: type some words to search for")
    if len(text) > MAX_QUERY_CHARS:
        raise InvalidQuery(f"query is {len(text)} characters; the limit is {MAX_QUERY_CHARS}")
    return text


def query_key(query: str) -> str:
    """The form analytics group a query by: ``normalize_query``'s text (NFC, control characters
    dropped, whitespace collapsed) case-folded with ``str.casefold`` (Unicode full case folding,
    so "Straße", "STRASSE" and "strasse" meet), then NFC again. Never raises: stored queries were
    checked when searched."""
    text = unicodedata.normalize("NFC", query)
    text = "".join(ch if ch.isprintable() or ch.isspace() else " " for ch in text)
    text = _SPACE.sub(" ", text).strip()
    return unicodedata.normalize("NFC", text.casefold())
