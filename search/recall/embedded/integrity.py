"""Checks of the embedded index's files: what ``EmbeddedRecall`` runs at open and ``shelf check``
runs in full.

What is checked, file by file (``docs/concepts/index-integrity.md``):

- tantivy's segment files (``.term .idx .pos .fast .fieldnorm .store`` and ``.del``): tantivy
  ends each with a footer, ``body | JSON {"version": ..., "crc": CRC32(body)} | u32 LE length of
  the JSON | u32 LE magic 1337`` (tantivy ``directory/footer.rs``). The structure (every segment
  ``meta.json`` lists has its files, each with a readable footer) is always checked; the CRC32
  of the body is checked within a byte budget at open and always by ``shelf check``.
- ``meta.json`` and ``.managed.json`` (tantivy's, without footers) must parse as JSON.
- ``shelf-index.json`` (Shelf's marker) carries a SHA-256 of its own fields.
- ``vectors.db``: SQLite's ``PRAGMA quick_check`` (pages and records), then every vector row:
  its length is the recorded dimension, every number is finite, and its CRC32 (recorded when
  the row is written) matches.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from search.errors import IndexCorrupt

FOOTER_MAGIC = 1337  # tantivy's FOOTER_MAGIC_NUMBER
SEGMENT_PARTS = ("term", "idx", "pos", "fast", "fieldnorm", "store")
MARKER = "shelf-index.json"
VECTORS = "vectors.db"
_CHUNK = 1 << 20
_ROW_CHUNK = 4096
_VECTOR_DTYPE = np.dtype("<f2")  # as search.recall.embedded.vectors.VECTOR_DTYPE


@dataclass
class Report:
    """What a check found: ``problems`` (each an ``IndexCorrupt`` naming file, problem and fix),
    the files it read, and the bytes whose checksums it left for ``shelf check``."""

    index_dir: Path
    problems: list[IndexCorrupt] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    unverified_bytes: int = 0

    @property
    def ok(self) -> bool:
        """No problem found."""
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        """The report as ``shelf check --json`` prints it."""
        return {
            "ok": self.ok,
            "index": str(self.index_dir),
            "checked": self.checked,
            "unverified_bytes": self.unverified_bytes,
            "problems": [
                {"file": p.file, "problem": p.problem, "fix": p.fix} for p in self.problems
            ],
        }


def reindex_fix(index_dir: Path) -> str:
    """What to do when tantivy's files or Shelf's marker are damaged."""
    return (
        f"delete {index_dir} and run `shelf ingest --full CATALOG` again (vectors come back "
        "from the embedding cache), or restore the data dir from a backup"
    )


def vectors_fix(index_dir: Path, *, rows: bool) -> str:
    """What to do when ``vectors.db`` is damaged: its rows, or the file itself."""
    if rows:
        return "run `shelf embed --rebuild` to embed the products again, or restore a backup"
    return (
        f"delete {index_dir / VECTORS} and run `shelf embed` (it is rebuilt from the index, "
        "vectors from the embedding cache), or restore the data dir from a backup"
    )


def marker_text(schema_version: int) -> str:
    """The marker file's content: the schema version and a SHA-256 of it."""
    body = {"schema_version": schema_version}
    return json.dumps({**body, "sha256": _digest(body)})


def _digest(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def read_marker(index_dir: Path) -> int | None:
    """The schema version the marker records; ``None`` without a marker. ``IndexCorrupt`` when
    it is unreadable or its checksum does not match (a marker without one predates checksums)."""
    path = index_dir / MARKER
    if not path.exists():
        return None
    fix = reindex_fix(index_dir)
    try:
        recorded = json.loads(path.read_bytes())
        body = {"schema_version": recorded["schema_version"]}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexCorrupt(MARKER, f"unreadable: {type(exc).__name__}", fix) from exc
    if "sha256" in recorded and recorded["sha256"] != _digest(body):
        raise IndexCorrupt(MARKER, "its SHA-256 does not match its content", fix)
    version = body["schema_version"]
    return version if isinstance(version, int) else -1


def footer_crc(path: Path) -> tuple[int, int]:
    """``(body length, recorded CRC32)`` from a tantivy file's footer; ``ValueError`` naming what
    is wrong when it has none."""
    with path.open("rb") as file:
        size = file.seek(0, os.SEEK_END)
        if size < 8:
            raise ValueError(f"{size} bytes, too short for tantivy's footer")
        file.seek(size - 8)
        length, magic = struct.unpack("<II", file.read(8))
        if magic != FOOTER_MAGIC or length > size - 8:
            raise ValueError("no tantivy footer at its end (truncated or overwritten)")
        file.seek(size - 8 - length)
        try:
            footer = json.loads(file.read(length))
            return size - 8 - length, int(footer["crc"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError("tantivy's footer is unreadable") from exc


def body_crc(path: Path, length: int) -> int:
    """CRC32 (IEEE, as tantivy's crc32fast) of the first ``length`` bytes, read in 1 MiB reads."""
    crc = 0
    with path.open("rb") as file:
        left = length
        while left:
            chunk = file.read(min(_CHUNK, left))
            if not chunk:
                break
            crc, left = zlib.crc32(chunk, crc), left - len(chunk)
    return crc


def _segment_files(index_dir: Path, meta: dict[str, Any]) -> Iterator[str]:
    """Every file the segments of ``meta.json`` need."""
    for segment in meta.get("segments", []):
        stem = str(segment["segment_id"]).replace("-", "")
        for part in SEGMENT_PARTS:
            yield f"{stem}.{part}"
        if segment.get("deletes"):
            yield f"{stem}.{segment['deletes']['opstamp']}.del"


def check_index(index_dir: Path, *, verify_bytes: int | None = None) -> Report:
    """Check every file of the index at ``index_dir`` (never writing to it): the checksums of
    at most ``verify_bytes`` bytes of tantivy's files and of ``vectors.db`` (``None``: all of
    them; the structure always). Problems are reported, not raised."""
    for _attempt in range(3):
        meta = _read_or_none(index_dir / "meta.json")
        report = Report(index_dir)
        budget = [verify_bytes]
        _check_tantivy(index_dir, report, budget)
        # A commit or merge of another process since meta.json was read can remove the files it
        # listed: check the new list rather than report them missing.
        if report.ok or _read_or_none(index_dir / "meta.json") == meta:
            break
    try:
        report.checked.append(MARKER)
        read_marker(index_dir)
    except IndexCorrupt as exc:
        report.problems.append(exc)
    _check_vectors(index_dir, report, budget)
    return report


def _read_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _spend(budget: list[int | None], size: int) -> bool:
    """Whether ``size`` more bytes fit the budget (which they then use)."""
    if budget[0] is None:
        return True
    if size > budget[0]:
        return False
    budget[0] -= size
    return True


def _check_tantivy(index_dir: Path, report: Report, budget: list[int | None]) -> None:
    fix = reindex_fix(index_dir)
    managed = index_dir / ".managed.json"
    if managed.exists():
        report.checked.append(managed.name)
        try:
            json.loads(managed.read_bytes())
        except (OSError, ValueError) as exc:
            report.problems.append(IndexCorrupt(managed.name, f"unreadable: {exc}", fix))
    report.checked.append("meta.json")
    try:
        meta = json.loads((index_dir / "meta.json").read_bytes())
        names = list(_segment_files(index_dir, meta))
    except FileNotFoundError:
        return  # no index yet: nothing to check
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        report.problems.append(IndexCorrupt("meta.json", f"unreadable: {exc}"[:200], fix))
        return
    for name in names:
        path = index_dir / name
        report.checked.append(name)
        try:
            length, recorded = footer_crc(path)
            if not _spend(budget, length):
                report.unverified_bytes += length
            elif body_crc(path, length) != recorded:
                report.problems.append(
                    IndexCorrupt(name, "its CRC32 does not match tantivy's footer", fix)
                )
        except FileNotFoundError:
            report.problems.append(IndexCorrupt(name, "missing", fix))
        except (OSError, ValueError) as exc:
            report.problems.append(IndexCorrupt(name, str(exc), fix))


def connect_read_only(path: Path) -> sqlite3.Connection:
    """A connection that never writes: ``mode=ro``, and ``immutable=1`` where the directory is
    read-only (SQLite cannot create the WAL's shared-memory file there)."""
    immutable = "&immutable=1" if not os.access(path.parent, os.W_OK) else ""
    uri = f"file:{quote(str(path))}?mode=ro{immutable}"
    return sqlite3.connect(uri, uri=True, check_same_thread=False)


def _check_vectors(index_dir: Path, report: Report, budget: list[int | None]) -> None:
    path = index_dir / VECTORS
    if not path.exists():
        return
    report.checked.append(VECTORS)
    try:
        db = connect_read_only(path)
    except sqlite3.Error as exc:
        report.problems.append(IndexCorrupt(VECTORS, str(exc), vectors_fix(index_dir, rows=False)))
        return
    try:
        if not _spend(budget, path.stat().st_size):
            report.unverified_bytes += path.stat().st_size
            return
        found = db.execute("PRAGMA quick_check").fetchall()
        if found != [("ok",)]:
            problem = "SQLite's quick_check: " + "; ".join(str(row[0]) for row in found[:3])
            raise IndexCorrupt(VECTORS, problem[:300], vectors_fix(index_dir, rows=False))
        bad = bad_vector_rows(db)
        if bad:
            raise IndexCorrupt(VECTORS, bad, vectors_fix(index_dir, rows=True))
    except sqlite3.Error as exc:
        report.problems.append(
            IndexCorrupt(VECTORS, f"unreadable: {exc}", vectors_fix(index_dir, rows=False))
        )
    except IndexCorrupt as exc:
        report.problems.append(exc)
    finally:
        db.close()


def bad_vector_rows(db: sqlite3.Connection) -> str | None:
    """What is wrong with the stored vectors (a wrong length, a non-finite number, a CRC32 that
    does not match), counted; ``None`` when every row is sound."""
    meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    dim = meta.get("dim")
    columns = {row[1] for row in db.execute("PRAGMA table_info(vectors)")}
    crc = "crc" if "crc" in columns else "NULL"
    wrong_length = non_finite = wrong_crc = 0
    rows = db.execute(f"SELECT vector, {crc} FROM vectors")
    while chunk := rows.fetchmany(_ROW_CHUNK):
        for blob, recorded in chunk:
            if recorded is not None and zlib.crc32(blob) != recorded:
                wrong_crc += 1
            elif dim is None or len(blob) != int(dim) * _VECTOR_DTYPE.itemsize:
                wrong_length += 1
            elif not np.isfinite(np.frombuffer(blob, _VECTOR_DTYPE)).all():
                non_finite += 1
    counts = {
        "whose CRC32 does not match": wrong_crc,
        "of the wrong length": wrong_length,
        "with non-finite numbers (NaN, inf)": non_finite,
    }
    found = [f"{n} vector rows {what}" for what, n in counts.items() if n]
    return "; ".join(found) or None
