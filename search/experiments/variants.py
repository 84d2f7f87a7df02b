"""One search service per reranker model and learned ranker that a variant names.

A variant that overrides ``model`` needs that model loaded (local mode) or workers that serve it
(Celery mode); one that overrides ``ranker`` needs that ranker loaded (``default``, ``none`` or a
directory ``shelf ranker train`` wrote). Both are loaded when an experiment is created or
started, never on a search: a model or ranker that cannot be loaded refuses the experiment with
the reason, instead of degrading shoppers' searches later. In Celery mode a variant model's
tasks go to their own queue (``model_queue``), since a worker refuses tasks for a model it does
not hold. A variant's service is the base one with its reranker replaced
(``SearchService.with_reranker``) and its ranker replaced (``with_config(ranker=...)``).
"""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING

from search.errors import InvalidQuery, ShelfError
from search.events.definitions import ExperimentSpec
from search.pipeline.service import SearchService
from search.rerank.rerankers import Reranker, make_reranker
from search.settings import Settings

if TYPE_CHECKING:
    from search.ranking.model import LearnedRanker


def model_queue(base_queue: str, model: str) -> str:
    """The Celery queue of a variant's model: ``rerank.<model as a name>``."""
    return f"{base_queue}.{re.sub(r'[^A-Za-z0-9_.-]+', '_', model).strip('_')[:100]}"


class VariantServices:
    """The base service, and one sharing its engines and configuration for each variant
    model (``SearchService.with_reranker``) and ranker (``with_config(ranker=...)``); the
    variants' other options (rerank window, rerank off, blend) are the request's
    (``search.pipeline.request.variant_request``)."""

    def __init__(self, settings: Settings, base: SearchService) -> None:
        self.settings = settings
        self.base = base
        self._by_model: dict[str, SearchService] = {}
        self._by_variant: dict[tuple[str | None, str], SearchService] = {}
        self._lock = threading.Lock()

    def service(self, model: str | None, ranker: str | None = None) -> SearchService:
        """The service that reranks with ``model`` (the base one for None or the default) and
        orders with ``ranker`` (None: the base's); ``InvalidQuery`` when either was never
        prepared."""
        model = None if model == self.settings.rerank_model else model
        try:
            if ranker is not None:
                return self._by_variant[(model, ranker)]
            return self.base if model is None else self._by_model[model]
        except KeyError:
            named = f"model {model!r}" if ranker is None else f"ranker {ranker!r}"
            raise InvalidQuery(
                f"{named} is not loaded: it is loaded when an experiment naming it is created "
                "or started"
            ) from None

    def prepare(self, spec: ExperimentSpec) -> None:
        """Load (local) or connect to (Celery) every model, and load every ranker, the
        variants name; ``InvalidQuery`` naming the variant when one cannot be loaded."""
        for variant in spec.variants:
            model, ranker = variant.overrides.model, variant.overrides.ranker
            model = None if model == self.settings.rerank_model else model
            with self._lock:
                if model is not None and model not in self._by_model:
                    try:
                        reranker = self._reranker(model)
                    except ShelfError as exc:
                        raise InvalidQuery(
                            f"variant {variant.name!r}: its model {model!r} cannot be used: {exc}"
                        ) from None
                    self._by_model[model] = self.base.with_reranker(reranker)
                if ranker is not None and (model, ranker) not in self._by_variant:
                    base = self.base if model is None else self._by_model[model]
                    self._by_variant[(model, ranker)] = base.with_config(
                        ranker=self._ranker(variant.name, ranker)
                    )

    def close(self) -> None:
        """Stop the variant models (the base service, with the shared index, is closed by its
        owner)."""
        for service in self._by_model.values():
            if service.reranker is not None:
                service.reranker.close()
        self._by_model.clear()
        self._by_variant.clear()

    @staticmethod
    def _ranker(variant: str, spec: str) -> LearnedRanker | None:
        """The ranker ``spec`` names, loaded; ``InvalidQuery`` naming the variant when it
        cannot be."""
        from search.ranking.model import load_ranker

        try:
            return load_ranker(spec)
        except ShelfError as exc:
            raise InvalidQuery(
                f"variant {variant!r}: its ranker {spec!r} cannot be used: {exc}"
            ) from None

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
