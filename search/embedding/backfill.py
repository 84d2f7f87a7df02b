"""The embedding pass: vectors for the products that lack one, behind BM25 indexing.

BM25 indexing stays fast (thousands of products a second); embedding is slow on a CPU (tens of
products a second with the bundled model), so it never runs inline with indexing. The pass asks
the index which products lack a vector from the configured model (``Recall.pending_vectors``),
embeds them in batches and writes them back (``Recall.put_vectors``). All of its state lives in
the index, so it is resumable by construction: stop it anywhere, run it again, and it picks up
what is still missing. It runs in ``shelf ingest`` after indexing, as ``shelf embed``, in a
background thread of ``shelf serve``, or spread over Celery workers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from search.embedding.cache import EmbeddingCache
from search.recall import PendingText, Recall, StoredVector

if TYPE_CHECKING:
    from workers.embedding.model import Embedder

log = logging.getLogger(__name__)


@dataclass
class EmbedReport:
    """What one embedding pass did: vectors stored, vectors computed but no longer needed (the
    text changed meanwhile), what is still pending, and how long it took."""

    embedded: int = 0
    stale: int = 0
    pending: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        """Products embedded per second."""
        return self.embedded / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, object]:
        """JSON-ready counts."""
        return {
            "embedded": self.embedded,
            "stale": self.stale,
            "pending": self.pending,
            "seconds": round(self.seconds, 3),
            "products_per_s": round(self.rate, 1),
        }


Progress = Callable[[EmbedReport], None]


def embed_pending(
    recall: Recall,
    embedder: Embedder,
    *,
    batch_size: int = 32,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    cache: EmbeddingCache | None = None,
) -> EmbedReport:
    """Embed every live product that lacks a vector from ``embedder``, ``batch_size`` at a time,
    until none is left or ``stop`` is set; texts ``cache`` already holds are not embedded again.
    ``EmbeddingMismatch`` when the index's vectors come from another model
    (``Recall.drop_vectors`` first to rebuild)."""
    report = EmbedReport()
    started = time.perf_counter()
    model_id = embedder.model_id
    report.pending = recall.vector_status().without_vector
    while not (stop and stop.is_set()):
        pending = recall.pending_vectors(model_id, limit=batch_size)
        if not pending:
            break
        vectors = vectors_for(embedder, pending, cache)
        stored = recall.put_vectors(
            model_id,
            [StoredVector(p.product_id, p.text_hash, vectors[p.text_hash]) for p in pending],
        )
        report.embedded += stored
        report.stale += len(pending) - stored
        report.pending = max(report.pending - len(pending), 0)
        report.seconds = time.perf_counter() - started
        if progress:
            progress(report)
        if stored == 0:
            break  # every text changed under us: the next pass sees the new ones
    report.pending = recall.vector_status().without_vector
    report.seconds = time.perf_counter() - started
    return report


def vectors_for(
    embedder: Embedder, pending: list[PendingText], cache: EmbeddingCache | None
) -> dict[str, list[float]]:
    """Each pending text's vector by text hash: from the cache, else from the model (then
    cached). The in-process pass and the Celery embed task both call it."""
    found = cache.get_many(embedder.model_id, [p.text_hash for p in pending]) if cache else {}
    missing = list({p.text_hash: p for p in pending if p.text_hash not in found}.values())
    if missing:
        computed = embedder.embed_passages(
            [p.text for p in missing], [p.language or None for p in missing]
        )
        new = {
            p.text_hash: [float(x) for x in vector]
            for p, vector in zip(missing, computed, strict=True)
        }
        if cache is not None:
            cache.put_many(embedder.model_id, new)
        found.update(new)
    return found


class BackgroundEmbedder:
    """A daemon thread of ``shelf serve`` that keeps embedding whatever lacks a vector: after an
    ingest with ``--embed later``, newly ingested products become findable by the dense leg
    without anyone running ``shelf embed``."""

    def __init__(
        self,
        recall: Recall,
        embedder: Embedder,
        *,
        batch_size: int,
        cache: EmbeddingCache | None = None,
        idle_s: float = 2.0,
    ) -> None:
        self.recall = recall
        self.embedder = embedder
        self.cache = cache
        self.batch_size = batch_size
        self.idle_s = idle_s
        self.embedded = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="shelf-embed", daemon=True)

    def start(self) -> None:
        """Start embedding in the background."""
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                report = embed_pending(
                    self.recall,
                    self.embedder,
                    batch_size=self.batch_size,
                    stop=self._stop,
                    cache=self.cache,
                )
                self.embedded += report.embedded
            except Exception:  # a failing pass must not kill the server; it retries when idle
                log.exception("background embedding pass failed; retrying later")
            self._stop.wait(self.idle_s)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop after the batch in progress; wait at most ``timeout_s``."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
