"""The embedded backend's vector store: a SQLite file (WAL) beside the tantivy index.

It holds, for the live catalog, one row per product (its embedding text, the text's hash and the
filter attributes the tantivy filters use), the vectors keyed by ``(model_id, text_hash)`` so an
unchanged text keeps its vector across updates and full reloads, and ``meta``: the embedding
model and dimension the vectors belong to, plus the counters readers follow.

Every write transaction bumps ``meta.seq`` and stamps the rows it writes (products, vectors,
deletion tombstones) with it, so a reader in another process applies only what changed since the
``seq`` it last saw (``DenseIndex``). ``meta.epoch`` is bumped by what invalidates a reader
wholesale: a full reload going live, or the vectors being dropped.
"""

from __future__ import annotations

import sqlite3
import threading
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from catalog.locales import language_of
from catalog.product import Product
from catalog.text import embed_text, text_hash
from search.errors import EmbeddingMismatch, InvalidVector, RecallUnavailable
from search.recall import PendingText, StoredVector, VectorStatus, brand_key
from search.recall.embedded.integrity import connect_read_only

DB_NAME = "vectors.db"
# Vectors are stored (and searched) as little-endian float16: half the disk and memory of float32,
# and a cosine off by less than 1e-3, far below what separates two products.
VECTOR_DTYPE = np.dtype("<f2")
BUSY_TIMEOUT_S = 30.0

# Products are found by text hash through an index on its first 16 hex digits (64 bits): the
# hashes are random, and an index of the whole 64-character keys made every bulk insert pay for
# page splits (3.2 of 5.0 s for 200k rows; 1.2 s with the prefix).
BY_HASH = "substr(text_hash, 1, 16) = substr(?1, 1, 16) AND text_hash = ?1"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value);
INSERT OR IGNORE INTO meta VALUES ('seq', 0), ('epoch', 0), ('model_id', NULL), ('dim', NULL);
CREATE TABLE IF NOT EXISTS products (
    id TEXT PRIMARY KEY, seq INTEGER NOT NULL, text_hash TEXT NOT NULL, text TEXT NOT NULL,
    language TEXT NOT NULL, locale TEXT NOT NULL, category TEXT NOT NULL, brand TEXT NOT NULL,
    price REAL NOT NULL, in_stock INTEGER NOT NULL, embedded INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS products_seq ON products (seq);
DROP INDEX IF EXISTS products_text_hash;
CREATE INDEX IF NOT EXISTS products_hash_prefix ON products (substr(text_hash, 1, 16));
CREATE INDEX IF NOT EXISTS products_pending ON products (id) WHERE embedded = 0;
CREATE TABLE IF NOT EXISTS staged_products AS SELECT * FROM products WHERE 0;
CREATE UNIQUE INDEX IF NOT EXISTS staged_products_id ON staged_products (id);
DROP INDEX IF EXISTS staged_products_text_hash;
CREATE INDEX IF NOT EXISTS staged_hash_prefix ON staged_products (substr(text_hash, 1, 16));
CREATE TABLE IF NOT EXISTS vectors (
    model_id TEXT NOT NULL, text_hash TEXT NOT NULL, seq INTEGER NOT NULL, vector BLOB NOT NULL,
    PRIMARY KEY (model_id, text_hash));
CREATE INDEX IF NOT EXISTS vectors_model_seq ON vectors (model_id, seq);
CREATE TABLE IF NOT EXISTS tombstones (id TEXT NOT NULL, seq INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS tombstones_seq ON tombstones (seq);
"""
# Each vector row's CRC32 (of its blob), checked at open and by `shelf check` (integrity.py).
_CRC_COLUMN = "ALTER TABLE vectors ADD COLUMN crc INTEGER"
CACHE_KIB = 65_536  # SQLite page cache of the store's connection (64 MiB)
# The filter attributes, in the order DenseIndex reads them.
ATTRIBUTES = "id, language, locale, category, brand, price, in_stock"


class ProductRow(NamedTuple):
    """What the dense leg keeps of a product: its embedding text and its filter attributes,
    spelled as the tantivy filter fields spell them (``category`` is the full path, whose
    levels are ``Product.category_path``). A tuple: one is built per product ingested, and the
    store writes it as it is."""

    id: str
    text_hash: str
    text: str
    language: str
    locale: str
    category: str
    brand: str
    price: float
    in_stock: bool


def product_row(product: Product, max_chars: int) -> ProductRow:
    """The row of a product: ``embed_text`` cut to ``max_chars``, its hash, the filter values."""
    text = embed_text(product, max_chars)
    path = product.category_path
    return ProductRow(
        id=product.id,
        text_hash=text_hash(text),
        text=text,
        language=language_of(product.locale).code,
        locale=product.locale,
        category=path[-1] if path else "",
        brand=brand_key(product.brand),
        price=float(product.price),
        in_stock=product.in_stock,
    )


@dataclass(frozen=True)
class StoreState:
    """The counters and model record a reader compares against what it has loaded."""

    epoch: int
    seq: int
    model_id: str | None
    dim: int | None


def rebuild_hint(model_id: str | None) -> str:
    """What to do when the index's vectors come from another model than the configured one."""
    return (
        f"the index's vectors were built by {model_id}: run `shelf ingest --full FILE` or "
        "`shelf embed --rebuild` to rebuild them with the configured model"
    )


class VectorStore:
    """The SQLite file of products, vectors and meta; safe to share between threads.

    ``read_only``: opened with ``mode=ro`` (``immutable=1`` in a read-only directory), its schema
    taken as it is; every write raises ``RecallUnavailable``.
    """

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = path
        self.read_only = read_only
        try:
            if read_only:
                self._db = connect_read_only(path)
                self._db.isolation_level = None
            else:
                self._db = sqlite3.connect(
                    path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
                )
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
            # The hash and sequence indexes take random inserts: with SQLite's default 2 MB page
            # cache, writes slowed as the table grew (0.8 s per 50k rows at 50k, 6.8 s at 200k).
            self._db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            if not read_only:
                self._db.executescript(_SCHEMA)
                columns = {row[1] for row in self._db.execute("PRAGMA table_info(vectors)")}
                if "crc" not in columns:
                    self._db.execute(_CRC_COLUMN)
        except sqlite3.Error as exc:
            raise RecallUnavailable(f"cannot open the vector store at {path}: {exc}") from exc
        self._lock = threading.RLock()

    @contextmanager
    def _write(self) -> Iterator[tuple[sqlite3.Connection, int]]:
        """One write transaction and its new ``seq``."""
        if self.read_only:
            raise RecallUnavailable(
                f"the vector store at {self.path} is read-only here: write from a machine "
                "where the data dir is writable"
            )
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                seq = self._db.execute(
                    "UPDATE meta SET value = value + 1 WHERE key = 'seq' RETURNING value"
                ).fetchone()[0]
                yield self._db, int(seq)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every query in it sees one snapshot."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                yield self._db
            finally:
                self._db.execute("COMMIT")

    def upsert(self, rows: Sequence[ProductRow], *, staged: bool = False) -> None:
        """Insert or replace product rows, in the live table or the full reload's staging."""
        if not rows:
            return
        table = "staged_products" if staged else "products"
        with self._write() as (db, seq):
            db.executemany(
                # ?1-?9: the row's fields in order (a bool in_stock is stored as 0/1); ?10: seq.
                f"INSERT OR REPLACE INTO {table} VALUES (?1, ?10, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
                "EXISTS (SELECT 1 FROM vectors WHERE text_hash = ?2 AND model_id = "
                "(SELECT value FROM meta WHERE key = 'model_id')))",
                [(*row, seq) for row in rows],
            )

    def delete(self, product_ids: Iterable[str], *, staged: bool = False) -> None:
        """Delete product rows (live ones leave a tombstone for readers)."""
        ids = [(product_id,) for product_id in product_ids]
        if not ids:
            return
        with self._write() as (db, seq):
            if staged:
                db.executemany("DELETE FROM staged_products WHERE id = ?", ids)
                return
            gone = [
                row for row in ids if db.execute("DELETE FROM products WHERE id = ?", row).rowcount
            ]
            db.executemany(f"INSERT INTO tombstones VALUES (?, {seq})", gone)

    def begin_full(self) -> None:
        """Start staging a new catalog (an unfinished earlier one is discarded)."""
        with self._write() as (db, _seq):
            db.execute("DELETE FROM staged_products")

    def commit_full(self) -> None:
        """Make the staged catalog live in one transaction; forget vectors no product uses."""
        with self._write() as (db, seq):
            db.execute("DELETE FROM products")
            db.execute(
                f"INSERT INTO products SELECT id, {seq}, text_hash, text, language, locale, "
                "category, brand, price, in_stock, embedded FROM staged_products"
            )
            db.execute("DELETE FROM staged_products")
            db.execute("DELETE FROM tombstones")
            db.execute(
                "DELETE FROM vectors WHERE text_hash NOT IN (SELECT text_hash FROM products)"
            )
            db.execute("UPDATE meta SET value = value + 1 WHERE key = 'epoch'")

    def abort_full(self) -> None:
        """Discard the staged catalog."""
        self.begin_full()

    def state(self) -> StoreState:
        """The counters and model record, read in one query."""
        with self._lock:
            meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        dim = meta["dim"]
        return StoreState(int(meta["epoch"]), int(meta["seq"]), meta["model_id"],
                          None if dim is None else int(dim))  # fmt: skip

    def _check_model(self, db: sqlite3.Connection, model_id: str) -> str | None:
        recorded = db.execute("SELECT value FROM meta WHERE key = 'model_id'").fetchone()[0]
        others = recorded is not None and recorded != model_id
        if others and db.execute("SELECT 1 FROM vectors LIMIT 1").fetchone():
            raise EmbeddingMismatch(
                f"cannot use embedding model {model_id}: " + rebuild_hint(recorded)
            )
        return recorded

    def pending(self, model_id: str, limit: int) -> list[PendingText]:
        """Up to ``limit`` live products, by id, whose text has no vector from ``model_id``."""
        with self.read() as db:
            self._check_model(db, model_id)
            # ``embedded`` is "has a vector": only one model's vectors exist at a time.
            rows = db.execute(
                "SELECT id, text_hash, text, language FROM products WHERE embedded = 0 "
                "ORDER BY id LIMIT ?",
                (limit,),
            ).fetchall()
        return [PendingText(*row) for row in rows]

    def put(self, model_id: str, vectors: Sequence[StoredVector]) -> int:
        """Store the vectors whose text hash still matches their product (live or staged);
        record ``model_id`` and the dimension with the first. Returns how many were stored.

        ``EmbeddingMismatch`` when vectors of another model are stored, or on a dimension other
        than the recorded one; ``InvalidVector`` (a ``ValueError``) for a zero or non-finite one.
        """
        if not vectors:
            return 0
        blobs = [(v, _vector_blob(v)) for v in vectors]
        dim = len(blobs[0][0].vector)
        with self._write() as (db, seq):
            recorded = self._check_model(db, model_id)
            recorded_dim = db.execute("SELECT value FROM meta WHERE key = 'dim'").fetchone()[0]
            if recorded != model_id or recorded_dim is None:
                db.execute("UPDATE meta SET value = ? WHERE key = 'model_id'", (model_id,))
                db.execute("UPDATE meta SET value = ? WHERE key = 'dim'", (dim,))
                recorded_dim = dim
            stored = 0
            for vector, blob in blobs:
                if len(vector.vector) != recorded_dim:
                    raise EmbeddingMismatch(
                        f"vector of {vector.product_id} has {len(vector.vector)} dimensions, "
                        f"the index's vectors have {recorded_dim}: " + rebuild_hint(recorded)
                    )
                current = db.execute(
                    "SELECT 1 FROM products WHERE id = ?1 AND text_hash = ?2 UNION ALL "
                    "SELECT 1 FROM staged_products WHERE id = ?1 AND text_hash = ?2 LIMIT 1",
                    (vector.product_id, vector.text_hash),
                ).fetchone()
                if current:
                    db.execute(
                        "INSERT OR REPLACE INTO vectors (model_id, text_hash, seq, vector, crc) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (model_id, vector.text_hash, seq, blob, zlib.crc32(blob)),
                    )
                    for table in ("products", "staged_products"):
                        db.execute(f"UPDATE {table} SET embedded = 1 WHERE {BY_HASH}",
                                   (vector.text_hash,))  # fmt: skip
                    stored += 1
        return stored

    def has_products(self) -> bool:
        """Whether the live catalog has any product row."""
        with self._lock:
            return self._db.execute("SELECT 1 FROM products LIMIT 1").fetchone() is not None

    def status(self) -> VectorStatus:
        """The model record and how many live products have a vector from it."""
        with self.read() as db:
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
            total, with_vector = db.execute(
                "SELECT count(*), coalesce(sum(embedded), 0) FROM products"
            ).fetchone()
        dim = meta["dim"]
        return VectorStatus(meta["model_id"], None if dim is None else int(dim),
                            with_vector, total - with_vector)  # fmt: skip

    def drop(self) -> None:
        """Forget every vector and the model record."""
        with self._write() as (db, _seq):
            db.execute("DELETE FROM vectors")
            db.execute("UPDATE products SET embedded = 0")
            db.execute("UPDATE staged_products SET embedded = 0")
            db.execute("UPDATE meta SET value = NULL WHERE key IN ('model_id', 'dim')")
            db.execute("UPDATE meta SET value = value + 1 WHERE key = 'epoch'")

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()


def _vector_blob(vector: StoredVector) -> bytes:
    array = np.asarray(vector.vector, dtype=np.float32)
    norm = float(np.linalg.norm(array))
    if array.ndim != 1 or not np.isfinite(norm) or norm == 0.0:
        raise InvalidVector(
            f"vector of {vector.product_id} must be a finite, non-zero list of numbers"
        )
    return (array / norm).astype(VECTOR_DTYPE).tobytes()


def vector_array(blob: bytes) -> np.ndarray:
    """A stored vector back as float32."""
    return np.frombuffer(blob, dtype=VECTOR_DTYPE).astype(np.float32)
