"""What an ingest did: the counts and rejects of one chunk, and the report of one file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from catalog.duplicates import Superseded
from catalog.enrich import Reject

SAMPLE_REJECTS_KEPT = 100  # the report keeps this many for display; the rejects file has all

COUNTS = ("read", "indexed", "updated", "unchanged")  # what a chunk reports and a file sums


@dataclass
class ChunkResult:
    """What ingesting one chunk did. ``indexed`` counts new ids, ``updated`` changed ones."""

    read: int = 0
    indexed: int = 0
    updated: int = 0
    unchanged: int = 0
    rejects: list[Reject] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        """Records of the chunk that were rejected."""
        return len(self.rejects)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready counts and rejects (what a Celery task returns)."""
        return {
            **{name: getattr(self, name) for name in COUNTS},
            "rejected": self.rejected,
            "rejects": [{"line": r.line_no, "reason": r.reason, "record": r.raw}
                        for r in self.rejects],
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChunkResult:
        """The inverse of ``as_dict`` (how a Celery task's result comes back)."""
        return cls(
            **{name: data[name] for name in COUNTS},
            rejects=[Reject(r["line"], r["reason"], r["record"]) for r in data["rejects"]],
        )


@dataclass
class IngestReport:
    """What an ingest of one file did.

    ``read`` counts every record read: ``read == stored + rejected + duplicates``, where
    ``duplicates`` counts the rows superseded by a later row with the same id.
    """

    source: str
    full: bool = False
    read: int = 0
    indexed: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    duplicates: int = 0
    deleted: int = 0
    seconds: float = 0.0
    encoding: str | None = None
    delimiter: str | None = None
    rejects: list[Reject] = field(default_factory=list)
    # Products the mapping's ``skip`` rules left out (Shopify drafts), by reason; not rejects.
    skipped: dict[str, int] = field(default_factory=dict)
    superseded: list[Superseded] = field(default_factory=list)

    @property
    def stored(self) -> int:
        """Valid products now in the catalog from this file: new, updated or unchanged."""
        return self.indexed + self.updated + self.unchanged

    def add(self, chunk: ChunkResult) -> None:
        """Fold one chunk's counts into the report, keeping a sample of rejects."""
        for name in COUNTS:
            setattr(self, name, getattr(self, name) + getattr(chunk, name))
        self.rejected += chunk.rejected
        room = SAMPLE_REJECTS_KEPT - len(self.rejects)
        self.rejects.extend(chunk.rejects[: max(room, 0)])

    def add_superseded(self, rows: Sequence[Superseded]) -> None:
        """Count rows replaced by a later row of the same id, keeping a sample."""
        self.read += len(rows)
        self.duplicates += len(rows)
        room = SAMPLE_REJECTS_KEPT - len(self.superseded)
        self.superseded.extend(rows[: max(room, 0)])

    def as_dict(self) -> dict[str, object]:
        """The report as plain JSON-ready data."""
        return {
            "source": self.source,
            "full": self.full,
            **{name: getattr(self, name) for name in COUNTS},
            "rejected": self.rejected,
            "duplicates": self.duplicates,
            "deleted": self.deleted,
            "skipped": dict(self.skipped),
            "seconds": round(self.seconds, 3),
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "rejects": [{"line": r.line_no, "reason": r.reason} for r in self.rejects],
            "superseded": [{"line": s.line_no, "id": s.product_id, "superseded_by": s.by_line}
                           for s in self.superseded],
        }  # fmt: skip
