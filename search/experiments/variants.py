"""One search service per reranker model that a variant names.

A variant that overrides ``model`` needs that model loaded (local mode) or workers that serve it
(Celery mode). Models are loaded when an experiment is created or started, never on a search:
a model that cannot be loaded refuses the experiment with the reason, instead of degrading
shoppers' searches later. In Celery mode a variant model's tasks go to their own queue
(``model_queue``), since a worker refuses tasks for a model it does not hold.
"""

from __future__ import annotations

import re
import threading

from search.errors import InvalidQuery, ShelfError
from search.events.definitions import ExperimentSpec
from search.pipeline.service import SearchService
from search.rerank.rerankers import Reranker, make_reranker
from search.settings import Settings


def model_queue(base_queue: str, model: str) -> str:
    """The Celery queue of a variant's model: ``rerank.<model as a name>``."""
    return f"{base_queue}.{re.sub(r'[^A-Za-z0-9_.-]+', '_', model).strip('_')[:100]}"


class VariantServices:
    """The base service, and one sharing its engines and configuration for each variant
    model (``SearchService.with_reranker``); the variants' other options (rerank window,
    rerank off, blend) are the request's (``search.pipeline.request.variant_request``)."""

    def __init__(self, settings: Settings, base: SearchService) -> None:
        self.settings = settings
        self.base = base
        self._by_model: dict[str, SearchService] = {}
        self._lock = threading.Lock()

    def service(self, model: str | None) -> SearchService:
        """The service that reranks with ``model`` (the base one for None or the default);
        ``InvalidQuery`` when the model was never prepared."""
        if model is None or model == self.settings.rerank_model:
            return self.base
        try:
            return self._by_model[model]
        except KeyError:
            raise InvalidQuery(
                f"model {model!r} is not loaded: it is loaded when an experiment naming it is "
                "created or started"
            ) from None

    def prepare(self, spec: ExperimentSpec) -> None:
        """Load (local) or connect to (Celery) every model the variants name; ``InvalidQuery``
        naming the variant when one cannot be loaded."""
        for variant in spec.variants:
            model = variant.overrides.model
            if model is None or model == self.settings.rerank_model:
                continue
            with self._lock:
                if model in self._by_model:
                    continue
                try:
                    reranker = self._reranker(model)
                except ShelfError as exc:
                    raise InvalidQuery(
                        f"variant {variant.name!r}: its model {model!r} cannot be used: {exc}"
                    ) from None
                self._by_model[model] = self.base.with_reranker(reranker)

    def close(self) -> None:
        """Stop the variant models (the base service, with the shared index, is closed by its
        owner)."""
        for service in self._by_model.values():
            if service.reranker is not None:
                service.reranker.close()
        self._by_model.clear()

    def _reranker(self, model: str) -> Reranker:
        settings = self.settings.model_copy(
            update={
                "rerank_model": model,
                "rerank_model_revision": None,
                "rerank_fallback_model": None,  # a variant runs the model it names, or none
                "rerank_queue": model_queue(self.settings.rerank_queue, model),
            }
        )
        reranker = make_reranker(settings, self.base.cache)
        reranker.warm_up()
        return reranker
