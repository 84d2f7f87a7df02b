"""The embedded index's health and how it is opened: the damage found in it (by the check at
open, or while reading), the guard every reading method runs under, and tantivy opened
read-only without writing where the index is."""

from __future__ import annotations

import functools
import logging
import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Concatenate, ParamSpec, Protocol, TypeVar

import tantivy

from search.errors import EngineFailure, IndexCorrupt, RecallUnavailable, is_engine_panic
from search.recall.embedded.integrity import VECTORS, check_index, read_marker, vectors_fix

# Bytes whose checksums are verified at open (SHELF_INDEX_VERIFY_MAX_MB's default).
VERIFY_BYTES = 1 << 30

log = logging.getLogger(__name__)
_P = ParamSpec("_P")
_T = TypeVar("_T")


class IndexHealth:
    """The damage found in the index at ``path``, if any: every search raises it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fault: RecallUnavailable | None = None
        self._checked_after_panic = False

    def check_at_open(self, verify_bytes: int | None) -> None:
        """Check the files (checksums of at most ``verify_bytes``); the first problem found
        becomes the fault, every one is logged."""
        if not self.path.exists():
            return
        found = check_index(self.path, verify_bytes=verify_bytes)
        for problem in found.problems:
            log.error("index damaged: %s", problem, extra={"file": problem.file})
        if found.problems:
            self.fault = found.problems[0]

    def require(self, *, vectors_only: bool = False) -> None:
        """Raise the fault, if any (``vectors_only``: not one in ``vectors.db``'s rows, which
        what rewrites them, such as ``shelf embed --rebuild``, may still reach)."""
        fault = self.fault
        if fault is not None and not (vectors_only and self.vectors_damaged()):
            raise fault

    def vectors_damaged(self) -> bool:
        """Whether the fault is in ``vectors.db``."""
        return isinstance(self.fault, IndexCorrupt) and self.fault.file == VECTORS

    def after_panic(self) -> None:
        """After tantivy's first panic, every checksum is verified (once: panics must not cost a
        full pass each): a damaged file found fails every later search and ``/readyz``."""
        if self._checked_after_panic:
            return
        self._checked_after_panic = True
        found = check_index(self.path, verify_bytes=None)
        if not found.ok:
            self.fault = found.problems[0]


class _Guarded(Protocol):
    health: IndexHealth


_G = TypeVar("_G", bound=_Guarded)


def engine_call(method: Callable[Concatenate[_G, _P], _T]) -> Callable[Concatenate[_G, _P], _T]:
    """A method that reads the index: damage found while reading fails every later call too
    (and ``/readyz``); a tantivy panic becomes ``EngineFailure``."""

    @functools.wraps(method)
    def call(self: _G, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        health = self.health
        try:
            return method(self, *args, **kwargs)
        except IndexCorrupt as exc:
            health.fault = exc
            raise
        except sqlite3.DatabaseError as exc:
            if type(exc) is not sqlite3.DatabaseError:  # locked, busy: not damage
                raise
            fault = IndexCorrupt(VECTORS, f"SQLite: {exc}", vectors_fix(health.path, rows=False))
            health.fault = fault
            raise fault from exc
        except BaseException as exc:
            if not is_engine_panic(exc):
                raise
            log.error("tantivy panicked", exc_info=exc, extra={"index": str(health.path)})
            health.after_panic()
            raise EngineFailure(
                f"the index engine failed ({exc}); run `shelf check` to verify the index at "
                f"{health.path}"
            ) from None

    return call


def open_tantivy(
    path: Path, schema: tantivy.Schema, schema_version: int, *, read_only: bool
) -> tuple[tantivy.Index, Path | None]:
    """tantivy's index at ``path`` (created when absent), its schema version checked, and the
    directory of links it was opened through when ``read_only`` (tantivy writes its lock files
    where the index is): remove that one when done."""
    try:
        version = read_marker(path) if path.exists() else None
    except IndexCorrupt:
        version = None  # the check at open reports it
    if version is not None and version != schema_version:
        raise RecallUnavailable(
            f"the index at {path} has schema version {version}, this Shelf needs "
            f"{schema_version}: delete the directory and run `shelf ingest` again"
        )
    try:
        if read_only:
            links = _linked_copy(path)
            return tantivy.Index.open(str(links)), links
        path.mkdir(parents=True, exist_ok=True)
        return tantivy.Index(schema, path=str(path), reuse=True), None
    except (OSError, ValueError) as exc:
        raise IndexUnopened(f"cannot open the product index at {path}: {exc}") from exc


class IndexUnopened(RecallUnavailable):
    """tantivy could not open the index (the check at open says why, when it can)."""


def _linked_copy(path: Path) -> Path:
    """A new temporary directory of symbolic links to the index's files."""
    shadow = Path(tempfile.mkdtemp(prefix="shelf-index-ro-"))
    for entry in path.iterdir():
        if entry.is_file() and not entry.name.startswith(".tantivy-"):
            (shadow / entry.name).symlink_to(entry.resolve())
    return shadow
