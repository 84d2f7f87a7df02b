"""The embedding pass on every core it is given: one single-threaded model per process.

On a shared CPU, one process with several BLAS or OpenMP threads embeds *slower* than one
thread (measured here: 24 against 168 passages/s for the bundled model, as threads spin against
each other and other work). So the pass parallelises across processes instead: each worker
process loads its own model with one thread, and a batch is split between them.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING

import numpy as np

from search.settings import Settings

if TYPE_CHECKING:
    from workers.embedding.model import Embedder

_worker_embedder: Embedder | None = None


def _start(settings: Settings) -> None:
    global _worker_embedder
    from workers.embedding.factory import make_embedder

    _worker_embedder = make_embedder(settings.model_copy(update={"embed_threads": 1}))


def _embed(texts: list[str], languages: list[str | None]) -> np.ndarray:
    assert _worker_embedder is not None
    return _worker_embedder.embed_passages(texts, languages)


class EmbeddingPool:
    """``embed_passages`` split over ``processes`` worker processes (spawned, so nothing of
    this process's threads or open files is inherited). Queries are not its job."""

    def __init__(self, embedder: Embedder, settings: Settings, processes: int) -> None:
        self.inner = embedder
        self.processes = processes
        context = multiprocessing.get_context("spawn")
        self._pool = ProcessPoolExecutor(
            processes, mp_context=context, initializer=_start, initargs=(settings,)
        )

    @property
    def model_id(self) -> str:
        """The model's id (every process loads the same model)."""
        return self.inner.model_id

    @property
    def dim(self) -> int:
        """The model's dimension."""
        return self.inner.dim

    def embed_queries(
        self, texts: Sequence[str], languages: Sequence[str | None] | None = None
    ) -> np.ndarray:
        """Queries run here, on the model of this process."""
        return self.inner.embed_queries(texts, languages)

    def embed_passages(
        self, texts: Sequence[str], languages: Sequence[str | None] | None = None
    ) -> np.ndarray:
        """``(len(texts), dim)``: the texts cut into one slice per process, in order."""
        langs = list(languages) if languages is not None else [None] * len(texts)
        size = -(-len(texts) // self.processes) or 1
        slices = [
            (list(texts[i : i + size]), langs[i : i + size]) for i in range(0, len(texts), size)
        ]
        parts = list(self._pool.map(_embed, *zip(*slices, strict=True))) if slices else []
        return np.concatenate(parts) if parts else np.empty((0, self.dim), np.float32)

    def warm_up(self) -> None:
        """Start the processes and load their models."""
        self.embed_passages(["warm up"] * self.processes)

    def close(self) -> None:
        """Stop the worker processes."""
        self._pool.shutdown(cancel_futures=True)
