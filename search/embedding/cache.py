"""Vectors already computed, kept on disk by (model, text hash), so no text is embedded twice.

Embedding is the slow part of ingestion on a CPU. A full reload into a fresh Elasticsearch
index, an evaluation's temporary index or a second data directory would otherwise embed every
unchanged text again. One SQLite file (``SHELF_EMBED_CACHE``, default
``<data_dir>/embeddings.db``) answers from what was computed before; it never decides
relevance, so losing it costs only time.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from array import array
from collections.abc import Mapping, Sequence
from pathlib import Path

log = logging.getLogger(__name__)

LOOKUP_CHUNK = 500  # SQLite's bound-parameter limit is far above; keeps statements small


class EmbeddingCache:
    """``(model_id, text_hash) -> vector`` in a SQLite file, safe across threads and processes."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        where = str(path)
        if not os.access(path.parent, os.W_OK):  # a read-only data dir is still searchable
            log.warning("the embedding cache's directory is read-only: caching in memory",
                        extra={"path": where})  # fmt: skip
            where = ":memory:"
        self._db = sqlite3.connect(where, timeout=30, check_same_thread=False)
        with self._lock, self._db:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS vectors (model TEXT NOT NULL, text_hash TEXT NOT "
                "NULL, vector BLOB NOT NULL, PRIMARY KEY (model, text_hash)) WITHOUT ROWID"
            )

    def get_many(self, model_id: str, text_hashes: Sequence[str]) -> dict[str, list[float]]:
        """The cached vector of each hash that has one (float32 precision)."""
        found: dict[str, list[float]] = {}
        unique = list(dict.fromkeys(text_hashes))
        with self._lock:
            for start in range(0, len(unique), LOOKUP_CHUNK):
                chunk = unique[start : start + LOOKUP_CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    "SELECT text_hash, vector FROM vectors "
                    f"WHERE model = ? AND text_hash IN ({marks})",
                    [model_id, *chunk],
                )
                for text_hash, blob in rows:
                    found[text_hash] = list(array("f", blob))
        return found

    def put_many(self, model_id: str, vectors: Mapping[str, Sequence[float]]) -> None:
        """Keep vectors by text hash (float32); an existing entry is replaced."""
        rows = [(model_id, h, array("f", v).tobytes()) for h, v in vectors.items()]
        with self._lock, self._db:
            self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)", rows)

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()
