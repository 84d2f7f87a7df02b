"""Catalog files with known bad rows: every kind of fault a shop's export has, at known lines.

Shared by the property tests (hypothesis picks the rows) and the 10,000-row acceptance test
(a seeded random picks them). A row is ``(kind, cells)``: ``kind`` None for a good row. Bad rows
of ``READER_KINDS`` cannot be read as a record at all; bad rows of ``VALUE_KINDS`` read fine but
are no valid product.
"""

from __future__ import annotations

from dataclasses import dataclass

HEADER = ("id", "title", "price", "currency", "locale")
READER_KINDS = ("undecodable", "extra_cell", "missing_cell", "oversize_cell", "broken_quote")
VALUE_KINDS = (
    "bad_price",
    "negative_price",
    "missing_title",
    "bad_locale",
    "bad_currency",
    "id_with_space",
)
KINDS = READER_KINDS + VALUE_KINDS
UNDECODABLE_MARK = "\ue000"  # replaced by the Windows-1252 byte for "è" after UTF-8 encoding


@dataclass(frozen=True)
class Row:
    """One row to write: its kind (None: good) and its cells, as the file will hold them."""

    kind: str | None
    cells: tuple[str, ...]

    @property
    def product_id(self) -> str:
        """The id in the row's first cell."""
        return self.cells[0]


def good_row(product_id: str, title: str, price: float = 9.5) -> Row:
    """A valid en-US product row."""
    return Row(None, (product_id, title, f"{price:.2f}", "USD", "en-US"))


def bad_row(kind: str, product_id: str, title: str, max_cell_chars: int) -> Row:
    """A row of ``kind`` (one of ``KINDS``), otherwise like ``good_row``."""
    cells = list(good_row(product_id, title).cells)
    if kind == "undecodable":
        cells[1] = f"Cr{UNDECODABLE_MARK}me {title}"
    elif kind == "extra_cell":
        cells.append("surplus")
    elif kind == "missing_cell":
        cells.pop()
    elif kind == "oversize_cell":
        cells[1] = "x" * (max_cell_chars + 1)
    elif kind == "broken_quote":
        # Written unquoted: a quote that closes mid-cell (a line break in it would end the row).
        safe = "".join(c for c in title if c not in '"\r\n')
        cells[1] = f'"{safe}" and more'
    elif kind == "bad_price":
        cells[2] = "twelve"
    elif kind == "negative_price":
        cells[2] = "-3.00"
    elif kind == "missing_title":
        cells[1] = ""
    elif kind == "bad_locale":
        cells[4] = "xx-XX"
    elif kind == "bad_currency":
        cells[3] = "dollars"
    elif kind == "id_with_space":
        cells[0] = f"{product_id} x"
    else:
        raise ValueError(f"unknown fault kind {kind!r}")
    return Row(kind, tuple(cells))


def _cell(text: str, delimiter: str, raw: bool) -> str:
    if raw or not any(c in text for c in (delimiter, '"', "\n", "\r")):
        return text
    return '"' + text.replace('"', '""') + '"'


def write_csv(rows: list[Row], delimiter: str, newline: str = "\r\n") -> tuple[bytes, list[int]]:
    """The file's bytes (UTF-8 but for undecodable rows) and the first line of each row."""
    out = [delimiter.join(HEADER).encode() + newline.encode()]
    lines: list[int] = []
    line = 2
    for row in rows:
        raw = row.kind == "broken_quote"
        text = delimiter.join(_cell(c, delimiter, raw and i == 1) for i, c in enumerate(row.cells))
        data = (text + newline).encode("utf-8")
        out.append(data.replace(UNDECODABLE_MARK.encode("utf-8"), b"\xe8"))
        lines.append(line)
        line += 1 + text.count("\n")  # a quoted cell's line breaks are lines of the file too
    return b"".join(out), lines
