"""The argument parsers several ``shelf`` commands share, one of each: a time, a list of numbers
joined by commas, a definition read from a JSON file, and the ``--recall`` option.

argparse ``type=`` parsers raise ``argparse.ArgumentTypeError`` (argparse names the option and
exits 2); the others raise ``InvalidQuery``, which ``shelf`` reports the same way.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import Any, TypeVar

from search.analytics.window import to_utc
from search.errors import InvalidQuery

Number = TypeVar("Number", int, float)


def parse_time(text: str) -> dt.datetime:
    """An ISO 8601 date or time (``2026-11-01``, ``2026-11-01T12:00Z``) in UTC; no offset means
    UTC. argparse names the option when it is not one, or falls outside years 1-9999 in UTC."""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 date or time (e.g. 2026-11-01 or 2026-11-01T12:00Z)"
        ) from None
    try:
        return to_utc(value, "time")
    except InvalidQuery as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("time: ")) from None


def number_list(text: str, kind: type[Number]) -> list[Number] | None:
    """``0.05,0.15,0.35`` as numbers of ``kind`` (blanks between commas skipped), or None when a
    part is not one: the caller says what it expected."""
    try:
        return [kind(part) for part in text.split(",") if part.strip()]
    except ValueError:
        return None


def read_json_file(path: Path, what: str) -> Any:
    """The JSON value in ``path``; ``InvalidQuery`` naming the file and ``what`` it should hold
    (``definition``, ``rule``) when it cannot be read or is not JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidQuery(f"{path}: not a readable JSON {what} ({exc})") from None


def add_recall_option(parser: argparse.ArgumentParser) -> None:
    """``--recall bm25|dense|hybrid``: the recall legs, as ``GET /search``'s ``recall``."""
    parser.add_argument(
        "--recall",
        choices=["bm25", "dense", "hybrid"],
        help="recall legs (default: SHELF_RECALL_MODE, hybrid; bm25 with SHELF_EMBED_MODEL=none)",
    )
