"""What text Shelf accepts from outside: no NUL, no control characters, no lone surrogates.

Two kinds of string arrive at the edges (HTTP, the experiments CLI, files):

- identifiers (ids, user and session ids, experiment and variant names, locales, filter values):
  no control character at all, tab and newline included;
- free text (queries, documents, descriptions): tab, newline and carriage return are kept, every
  other control character is refused.

Control characters are Unicode category ``Cc`` (U+0000-U+001F, U+007F-U+009F); a lone surrogate
(``Cs``, e.g. from a JSON ``"\\ud800"`` escape) is never valid text either: PostgreSQL refuses NUL
in text and no driver can encode a surrogate, so either one in a batch used to fail the whole
batch. ``Identifier`` and ``FreeText`` are the pydantic types every request model uses; they also
mark the OpenAPI schema (``x-shelf-text``) so the HTTP edge and the tests know which rule a field
follows.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

TextKind = Literal["identifier", "free"]
#: The OpenAPI schema key that says which rule a string field follows.
SCHEMA_KEY = "x-shelf-text"
_FREE_TEXT_WHITESPACE = frozenset("\t\n\r")


def first_control_character(text: str, kind: TextKind = "identifier") -> str | None:
    """The first character of ``text`` that ``kind`` refuses (a control character or a lone
    surrogate), or None when the text is clean."""
    if text.isprintable():  # fast path: no Cc, Cs (nor other unprintables) at all
        return None
    for ch in text:
        if unicodedata.category(ch) in ("Cc", "Cs"):
            if kind == "free" and ch in _FREE_TEXT_WHITESPACE:
                continue
            return ch
    return None


def describe_control_character(ch: str, kind: TextKind = "identifier") -> str:
    """Why ``ch`` was refused, for an error message that a field name is put in front of."""
    what = "a lone surrogate" if unicodedata.category(ch) == "Cs" else "the control character"
    allowed = (
        "send plain text (tab and newline are allowed)"
        if kind == "free"
        else "identifiers take no control characters, not even tab or newline"
    )
    return f"contains {what} U+{ord(ch):04X}: {allowed}"


def check_text(text: str, kind: TextKind = "identifier") -> str:
    """``text`` unchanged; ``ValueError`` naming the character when ``kind`` refuses one."""
    bad = first_control_character(text, kind)
    if bad is not None:
        raise ValueError(describe_control_character(bad, kind))
    return text


def _identifier(text: str) -> str:
    return check_text(text, "identifier")


def _free_text(text: str) -> str:
    return check_text(text, "free")


#: A string that names something: no control character at all.
Identifier = Annotated[
    str, AfterValidator(_identifier), Field(json_schema_extra={SCHEMA_KEY: "identifier"})
]
#: Text written by people: tab, newline and carriage return allowed, no other control character.
FreeText = Annotated[str, AfterValidator(_free_text), Field(json_schema_extra={SCHEMA_KEY: "free"})]


def find_in_json(value: Any, where: str = "") -> tuple[str, str] | None:
    """``(field path, character)`` of the first string under ``value`` (a parsed JSON value)
    holding a character free text refuses, or of the first key an identifier refuses; None
    when clean. Paths read ``title`` or ``specs.0.name``."""
    if isinstance(value, str):
        bad = first_control_character(value, "free")
        return None if bad is None else (where, bad)
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{where}.{key}" if where else str(key)
            bad = first_control_character(str(key), "identifier")
            if bad is not None:
                return (f"the key {path!r}", bad)
            found = find_in_json(item, path)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = find_in_json(item, f"{where}.{index}" if where else str(index))
            if found is not None:
                return found
    return None


def _free_json(value: Any) -> Any:
    found = find_in_json(value)
    if found is not None:
        where, ch = found
        prefix = f"{where} " if where else ""
        raise ValueError(f"{prefix}{describe_control_character(ch, 'free')}")
    return value


#: Free text, or a JSON object of free text (a document's fields): every string and key in it
#: is checked, and the error names the one at fault (``title contains ...``).
FreeTextOrObject = Annotated[
    str | dict[str, Any],
    AfterValidator(_free_json),
    Field(json_schema_extra={SCHEMA_KEY: "free"}),
]
