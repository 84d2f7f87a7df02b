"""The Reranker seam: score (query, product text) pairs with the cross-encoder."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from search.errors import ConfigError
from search.settings import Settings
from workers.model import RerankModel, load_model


class Reranker(Protocol):
    """Scores product texts against a query. Two modes: in-process and Celery workers."""

    @property
    def model_id(self) -> str:
        """The weights the scores come from (name and revision)."""
        ...

    def score(self, query: str, texts: Sequence[str]) -> list[float]:
        """One relevance score per text, in the texts' order; higher is more relevant."""
        ...


class LocalReranker:
    """The embedded default: the model runs in this process."""

    def __init__(self, model: RerankModel) -> None:
        self.model = model

    @property
    def model_id(self) -> str:
        """The weights the scores come from."""
        return self.model.model_id

    def score(self, query: str, texts: Sequence[str]) -> list[float]:
        """Score in-process through the shared model path."""
        return self.model.score(query, texts)


def make_reranker(settings: Settings) -> Reranker:
    """The Reranker the settings name, with its model loaded."""
    if settings.rerank_mode == "local":
        return LocalReranker(load_model(settings))
    raise ConfigError(
        f"SHELF_RERANK_MODE={settings.rerank_mode} is not available in this version of Shelf "
        "yet; use SHELF_RERANK_MODE=local"
    )
