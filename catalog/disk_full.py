"""A full disk during ingest: recognised whichever layer reports it, and explained.

The index engine reports a full disk in its own words: tantivy as ``ValueError("An IO error
occurred: 'No space left on device (os error 28)'")`` and, once its writer thread has died of
it, as ``"An index writer was killed.. (io::Error most likely)"``; SQLite as ``database or disk
is full``; Python as ``OSError(ENOSPC)``. ``is_disk_full`` knows them all (along the exception's
cause chain), and for the engine's bare I/O failures asks the disk itself how much room is
left. ``disk_full_error`` says what was committed and how to go on.
"""

from __future__ import annotations

import errno
import shutil
from collections.abc import Iterator
from pathlib import Path

from catalog.errors import CatalogError
from catalog.ingest_report import IngestReport

DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_DISK_FULL_WORDS = (
    "no space left on device",
    "os error 28",
    "database or disk is full",
    "disk quota exceeded",
    "os error 122",
)
# What the engine says when an I/O error killed its writer, without saying which error.
_BARE_IO_FAILURE = ("io::error", "an io error occurred", "index writer was killed")
LOW_FREE_BYTES = 1 << 20  # a disk with less room than this is full, as far as an index goes


class DiskFull(CatalogError):
    """The disk filled up during an ingest; the message says what was committed."""

    status_code = 507


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def free_bytes(path: Path) -> int:
    """Bytes free on the file system holding ``path`` (or its nearest existing parent)."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return shutil.disk_usage(candidate).free
    return shutil.disk_usage(Path.cwd()).free


def is_disk_full(
    exc: BaseException, index_dir: Path | None = None, low_free_bytes: int = LOW_FREE_BYTES
) -> bool:
    """Whether ``exc`` (or an exception it was raised from) means the disk is full.

    An engine's bare I/O failure counts when ``index_dir``'s disk has under ``low_free_bytes``.
    """
    for error in _chain(exc):
        if isinstance(error, OSError) and error.errno in DISK_FULL_ERRNOS:
            return True
        text = str(error).lower()
        if any(words in text for words in _DISK_FULL_WORDS):
            return True
        if "os error" in text:  # the engine named another OS error: not a full disk
            continue
        if index_dir is not None and any(words in text for words in _BARE_IO_FAILURE):
            return free_bytes(index_dir) < low_free_bytes
    return False


def disk_full_error(
    path: Path, report: IngestReport, last_line: int, exc: BaseException
) -> DiskFull:
    """The error to raise: "no space left on device", what was committed (how many records, up
    to which line of ``path``), and how to resume."""
    cause = f"({type(exc).__name__}: {exc})"
    again = (
        "Free some space (or point SHELF_DATA_DIR at a larger disk) and run the same command again"
    )
    if report.full:
        return DiskFull(
            f"no space left on device while ingesting {path} with --full: nothing was changed "
            f"(a full reload commits all or nothing; {report.read:,} records had been read). "
            f"{again} {cause}"
        )
    if not report.read:
        done = "nothing was committed"
    else:
        done = (
            f"the first {report.read:,} records (lines 1-{last_line:,}) were committed: "
            f"{report.stored:,} stored, {report.rejected:,} rejected, {report.duplicates:,} "
            f"duplicates; the records after line {last_line:,} were not"
        )
    return DiskFull(
        f"no space left on device while ingesting {path}: {done}. {again}: re-ingesting is "
        "idempotent, products already stored are skipped by their content hash, so only the "
        f"rest is written {cause}"
    )
