"""Limits on what one catalog record may cost, checked before it costs it.

A record that is too large (bytes of a line, of a record), too deep (arrays or objects nested in
each other) or too wide (keys of one object, items of one array, characters of one string) is
rejected alone, with a reason naming the limit and the setting that raises it, and reading goes
on with the next record. The order is what keeps memory bounded: a line's length is known before
it is decoded (``catalog.readers`` reads at most ``max_line_bytes + 1`` bytes of it), its depth is
scanned before the JSON parser sees it (the standard library's parser recurses once per level, so
100,000 nested brackets raise ``RecursionError``), and the width is checked on the parsed value,
whose size the line limit already bounds.

``excerpt`` is what a rejects file keeps of a bad record: its start and its length, never all of
it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields
from typing import Any

REJECT_EXCERPT_CHARS = 500  # what a rejects file keeps of a record, with the record's length

# The setting that raises each limit, named in every reason (``search.settings.Settings``).
SETTING_NAMES = {
    "max_line_bytes": "SHELF_INGEST_MAX_LINE_BYTES",
    "max_record_bytes": "SHELF_INGEST_MAX_RECORD_BYTES",
    "max_depth": "SHELF_INGEST_MAX_DEPTH",
    "max_keys": "SHELF_INGEST_MAX_KEYS",
    "max_items": "SHELF_INGEST_MAX_ITEMS",
    "max_field_chars": "SHELF_INGEST_MAX_FIELD_CHARS",
}


@dataclass(frozen=True)
class RecordLimits:
    """How large, deep and wide one source record may be (defaults fit any real product feed).

    ``max_line_bytes``: a JSON line, in bytes. ``max_record_bytes``: a CSV record (in
    characters, quoted line breaks included) or a Parquet row (in bytes, as Arrow holds it).
    ``max_depth``: arrays and objects nested in each other. ``max_keys``: keys of one object, or
    columns of a CSV or Parquet file. ``max_items``: items of one array. ``max_field_chars``:
    characters of one string (a CSV cell, a JSON string).
    """

    max_line_bytes: int = 2_000_000
    max_record_bytes: int = 4_000_000
    max_depth: int = 32
    max_keys: int = 1_000
    max_items: int = 10_000
    max_field_chars: int = 1_000_000

    def __post_init__(self) -> None:
        for field in fields(self):
            if getattr(self, field.name) < 1:
                raise ValueError(f"{SETTING_NAMES[field.name]} must be at least 1")

    def over(self, name: str, what: str) -> str:
        """A reason: ``what`` (e.g. "line is 3,000,000 bytes"), the limit, and its setting."""
        return f"{what}, over the limit of {getattr(self, name):,} ({SETTING_NAMES[name]})"


DEFAULT_LIMITS = RecordLimits()

# Quotes, escapes and brackets: a string's brackets are text, and an escaped quote ends nothing.
_JSON_TOKEN = re.compile(rb'\\.|["\[\]{}]', re.DOTALL)


def too_deep(line: bytes, limits: RecordLimits = DEFAULT_LIMITS) -> str | None:
    """Why a JSON line nests deeper than ``limits.max_depth``, or None; without parsing it.

    One pass over its quotes, escapes and brackets (linear, no recursion), skipped when the line
    holds too few brackets to reach the limit at all, as almost every product line does.
    """
    if line.count(b"[") + line.count(b"{") <= limits.max_depth:
        return None
    depth, in_string = 0, False
    for token in _JSON_TOKEN.finditer(line):
        char = token.group()
        if char == b'"':
            in_string = not in_string
        elif in_string or len(char) == 2:
            continue
        elif char in (b"[", b"{"):
            depth += 1
            if depth > limits.max_depth:
                return limits.over("max_depth", f"arrays or objects nest at least {depth} deep")
        else:
            depth -= 1
    return None


def too_wide(value: Any, limits: RecordLimits = DEFAULT_LIMITS) -> str | None:
    """Why a parsed record has an object with too many keys, an array with too many items or a
    string with too many characters (naming where, e.g. ``bullets[3]``), or None.

    ``value`` must already be within ``limits.max_depth`` (``too_deep``); walked without
    recursion.
    """
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        where = f"field {path!r}" if path else "the record"
        if isinstance(item, str):
            if len(item) > limits.max_field_chars:
                return limits.over("max_field_chars", f"{where} has {len(item):,} characters")
        elif isinstance(item, dict):
            if len(item) > limits.max_keys:
                return limits.over("max_keys", f"{where} has {len(item):,} keys")
            for key, child in item.items():
                if len(key) > limits.max_field_chars:
                    return limits.over("max_field_chars", f"a key has {len(key):,} characters")
                stack.append((f"{path}.{key}" if path else str(key), child))
        elif isinstance(item, list):
            if len(item) > limits.max_items:
                return limits.over("max_items", f"{where} has {len(item):,} items")
            stack.extend((f"{path}[{n}]", child) for n, child in enumerate(item))
    return None


def excerpt(raw: str | dict[str, Any], chars: int = REJECT_EXCERPT_CHARS) -> str | dict[str, Any]:
    """A record as a rejects file keeps it: whole when it is short, else its first ``chars``
    characters (a dict as JSON) followed by ``… [N characters]``, N the whole record's length."""
    if isinstance(raw, dict):
        text = json.dumps(raw, ensure_ascii=False, default=str)
        if len(text) <= chars:
            return raw
        raw = text
    if len(raw) <= chars:
        return raw
    return f"{raw[:chars]}… [{len(raw):,} characters]"
