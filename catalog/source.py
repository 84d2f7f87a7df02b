"""What every catalog reader yields, and the bounded line reading they share.

``catalog.readers`` picks a reader by suffix; the readers (JSON Lines there, CSV in
``catalog.delimited``, Parquet in ``catalog.parquet``) build on this module.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AnyStr

from catalog.dialect import DEFAULT_ENCODING
from catalog.errors import CatalogError

SKIP_PIECE = 1 << 20  # an over-long line is read through and dropped in pieces of this size
ENCODING_HINT = "give the file's encoding with --encoding (e.g. cp1252), or --encoding auto"


@dataclass(frozen=True)
class SourceRecord:
    """One record as read: where it starts, its original form, the parsed object or the error.

    ``raw`` is the original line for JSON Lines and the row as an object for CSV and Parquet.
    """

    line_no: int
    raw: str | dict[str, Any]
    data: dict[str, Any] | None
    error: str | None = None
    size: int = 0  # bytes (characters for CSV) the record took in the file: what chunks budget


def open_binary(path: Path) -> io.BufferedReader:
    """``path`` opened for reading bytes; CatalogError naming it when it cannot be."""
    try:
        return path.open("rb")
    except OSError as exc:
        raise CatalogError(f"cannot open catalog file {path}: {exc.strerror}") from exc


def codec_label(encoding: str) -> str:
    """How a reason names an encoding."""
    return "UTF-8" if encoding == DEFAULT_ENCODING else encoding


def bounded_lines(
    readline: Callable[[int], AnyStr], limit: int, ends: tuple[AnyStr, ...]
) -> Iterator[tuple[AnyStr, int, bool]]:
    """Each line of a stream: ``(line, length, whole)``, reading at most ``limit + 1`` units of
    it (bytes or characters; ``ends`` are the line breaks ``readline`` stops at). A longer line
    comes back as its first ``limit + 1`` units with ``whole`` False; the rest of it is read
    through in pieces and dropped, so memory never holds it."""
    while piece := readline(limit + 1):
        if len(piece) <= limit:
            yield piece, len(piece), True
            continue
        length, rest = len(piece), piece
        while not rest.endswith(ends) and (rest := readline(SKIP_PIECE)):
            length += len(rest)
        yield piece, length, False
