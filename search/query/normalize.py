"""Query normalisation: what every backend and cache sees instead of the raw shopper text."""

from __future__ import annotations

import re
import unicodedata

_SPACE = re.compile(r"\s+")


def normalize_query(query: str) -> str:
    """NFC, control characters dropped, whitespace collapsed (may be empty: the request parser,
    ``search.pipeline.request``, checks length and emptiness)."""
    text = unicodedata.normalize("NFC", query)
    text = "".join(ch if ch.isprintable() or ch.isspace() else " " for ch in text)
    return _SPACE.sub(" ", text).strip()


def query_key(query: str) -> str:
    """The form analytics group a query by: ``normalize_query``'s text (NFC, control characters
    dropped, whitespace collapsed) case-folded with ``str.casefold`` (Unicode full case folding,
    so "Straße", "STRASSE" and "strasse" meet), then NFC again. Never raises: stored queries were
    checked when searched."""
    return unicodedata.normalize("NFC", normalize_query(query).casefold())
