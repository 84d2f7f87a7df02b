"""How a catalog file is written: its text encoding and, for CSV, its delimiter.

``resolve_options`` turns what the user said (``--encoding``, ``--delimiter``, or nothing) into a
concrete encoding and delimiter, once per file, before any record is read:

- encoding: UTF-8 (a byte order mark is allowed) unless given; ``auto`` asks charset-normalizer
  (https://github.com/jawah/charset_normalizer) about the first ``DETECT_SAMPLE_BYTES`` of the file;
- delimiter: one of ``CANDIDATE_DELIMITERS``, sniffed by the standard library's ``csv.Sniffer``
  on the first ``SNIFF_SAMPLE_CHARS`` of the file; when the sniffer cannot tell, or picks a
  character the header line lacks, the candidate the header line holds most often wins, and a
  header with none of them falls back to the suffix's default (tab for ``.tsv``, else comma).
"""

from __future__ import annotations

import codecs
import csv
from dataclasses import dataclass
from pathlib import Path

from catalog.errors import CatalogError

CANDIDATE_DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
AUTO = "auto"
DEFAULT_ENCODING = "utf-8-sig"  # UTF-8, and a leading byte order mark is not part of the data
SNIFF_SAMPLE_CHARS = 64 * 1024
DETECT_SAMPLE_BYTES = 4 * 1024 * 1024
WESTERN = "cp1252"


@dataclass(frozen=True)
class ReadOptions:
    """How to read a file. ``None`` means "the default": UTF-8, and a sniffed CSV delimiter.

    ``encoding`` is a Python codec name or ``"auto"``; ``delimiter`` one character.
    """

    encoding: str | None = None
    delimiter: str | None = None


def delimiter_argument(value: str) -> str:
    """A ``--delimiter`` value as one character: ``;``, ``tab`` or ``\\t``, ``|``, ``,``."""
    delimiter = DELIMITER_NAMES.get(value.lower(), value)
    if len(delimiter) != 1 or delimiter in '"\r\n':
        raise CatalogError(f"--delimiter {value!r} is not one character; use one of , ; tab |")
    return delimiter


def check_encoding(name: str) -> str:
    """The codec's canonical name, or CatalogError naming the unknown encoding."""
    if name.lower() == AUTO:
        return AUTO
    try:
        codec = codecs.lookup(name)
    except LookupError as exc:
        raise CatalogError(
            f"unknown encoding {name!r}: give a Python codec name (utf-8, cp1252, latin-1, "
            "utf-16, shift_jis, ...) or 'auto' to detect it"
        ) from exc
    # Plain UTF-8 also accepts a byte order mark at the start, as every spreadsheet writes one.
    return DEFAULT_ENCODING if codec.name == "utf-8" else codec.name


def ascii_compatible(encoding: str) -> bool:
    """Whether line breaks and CSV punctuation are single ASCII bytes in this encoding."""
    codec = "utf-8" if encoding == DEFAULT_ENCODING else encoding  # utf-8-sig writes a BOM
    return '\n\r,;|\t"{}'.encode(codec, "strict") == b'\n\r,;|\t"{}'


def detect_encoding(path: Path) -> str:
    """The encoding charset-normalizer finds in the start of the file (ASCII reads as UTF-8)."""
    from charset_normalizer import from_bytes

    sample = _read_sample(path, DETECT_SAMPLE_BYTES)
    if len(sample) == DETECT_SAMPLE_BYTES and b"\n" in sample:
        sample = sample[: sample.rindex(b"\n") + 1]  # never cut a multi-byte character
    if not sample:
        return DEFAULT_ENCODING
    matches = from_bytes(sample)
    best = matches.best()
    if best is None:
        raise CatalogError(
            f"{path}: the encoding could not be detected (binary data?): give it with "
            "--encoding, e.g. --encoding cp1252"
        )
    # A few accented letters fit several Windows code pages equally well (cp1250 and cp1252 tie
    # on "Crème brûlée"); the tie goes to cp1252, the most widely used of them (WHATWG's
    # Encoding Standard even reads "latin-1" labels as windows-1252).
    tied = [m for m in matches if (m.chaos, m.coherence) == (best.chaos, best.coherence)]
    if any(WESTERN in m.could_be_from_charset for m in tied):
        return WESTERN
    name = codecs.lookup(best.encoding).name
    return DEFAULT_ENCODING if name in ("ascii", "utf-8") else name


def sniff_delimiter(sample: str, default: str = ",") -> str:
    """The delimiter of a CSV sample (whole lines, header first), among CANDIDATE_DELIMITERS."""
    header = sample.split("\n", 1)[0]
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters="".join(CANDIDATE_DELIMITERS)).delimiter
    except csv.Error:
        sniffed = None
    if sniffed in CANDIDATE_DELIMITERS and sniffed in header:
        return sniffed
    counts = {d: header.count(d) for d in CANDIDATE_DELIMITERS}
    best = max(CANDIDATE_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else default


def resolve_options(path: Path, options: ReadOptions, *, csv_file: bool) -> ReadOptions:
    """Concrete encoding (and, for CSV, delimiter) for reading ``path``."""
    encoding = check_encoding(options.encoding) if options.encoding else DEFAULT_ENCODING
    if encoding == AUTO:
        encoding = detect_encoding(path)
    if not csv_file:
        return ReadOptions(encoding=encoding)
    delimiter = options.delimiter
    if delimiter is None:
        default = "\t" if path.suffix.lower() == ".tsv" else ","
        raw = _read_sample(path, SNIFF_SAMPLE_CHARS * 4)
        text = raw.decode(encoding, "replace")[:SNIFF_SAMPLE_CHARS]
        text = text.lstrip("\ufeff").replace("\r\n", "\n")
        if "\n" in text.rstrip("\n"):
            text = text[: text.rindex("\n") + 1]  # whole lines only
        delimiter = sniff_delimiter(text, default)
    return ReadOptions(encoding=encoding, delimiter=delimiter_argument(delimiter))


def _read_sample(path: Path, size: int) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(size)
    except OSError as exc:
        raise CatalogError(f"cannot open catalog file {path}: {exc.strerror}") from exc
