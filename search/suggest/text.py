"""The key completions and prefixes are matched on: one spelling per thing a shopper may type."""

from __future__ import annotations

import re
import unicodedata

_SPACE = re.compile(r"\s+")


def completion_key(text: str) -> str:
    """NFKC (full-width Latin and half-width katakana fold to one form), casefolded, whitespace
    collapsed and stripped: ``"Ｓｏｎｙ  WH"`` -> ``"sony wh"``."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _SPACE.sub(" ", folded).strip()


def prefix_key(prefix: str) -> str:
    """A prefix as a key: as ``completion_key``, but one trailing space is kept, since it says a
    word is finished (``"red "`` completes to ``"red shoes"``, not ``"reddit"``)."""
    folded = _SPACE.sub(" ", unicodedata.normalize("NFKC", prefix).casefold()).lstrip()
    return folded if folded else ""


def is_latin(text: str) -> bool:
    """True when every letter of ``text`` is a Latin letter (digits, spaces, marks ignored)."""
    return all(not ch.isalpha() or unicodedata.name(ch, "").startswith("LATIN") for ch in text)
