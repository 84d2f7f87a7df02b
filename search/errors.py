"""The exceptions Shelf raises, one small hierarchy so every caller can map them in one place."""

from __future__ import annotations

# The base and the catalog's error live in the lowest layer (catalog imports nothing of search).
from catalog.errors import CatalogError, ShelfError

__all__ = [
    "CatalogError",
    "Conflict",
    "ConfigError",
    "EmbeddingMismatch",
    "EvaluationInputError",
    "InvalidQuery",
    "LimitExceeded",
    "ModelMissing",
    "ModelUnavailable",
    "NotConfigured",
    "NotFound",
    "Overloaded",
    "RandomWeightsRefused",
    "RecallUnavailable",
    "RerankTimeout",
    "SearchAbandoned",
    "SearchStopped",
    "SearchTimeout",
    "ShelfError",
    "Unauthorized",
]


class ConfigError(ShelfError):
    """A setting has a value Shelf cannot work with."""

    status_code = 500


class InvalidQuery(ShelfError):
    """The shopper's query cannot be searched as given (empty, too long, bad filter)."""

    status_code = 422


class RecallUnavailable(ShelfError):
    """The product index cannot be opened or searched."""

    status_code = 503


class ModelUnavailable(ShelfError):
    """The reranking model cannot be loaded."""

    status_code = 503


class ModelMissing(ModelUnavailable):
    """The model is not on this machine and could not be fetched (offline, or the download
    failed): the search, the demo and the server run without it and say so. A model that is
    present but cannot be loaded is a plain ``ModelUnavailable``, which stops them."""


class RandomWeightsRefused(ConfigError):
    """The model has random weights (``shelf make-test-model``, a benchmark's model): its scores
    mean nothing, so it ranks only where ``SHELF_ALLOW_RANDOM_WEIGHTS=1`` (tests, speed
    benchmarks)."""


class EvaluationInputError(ShelfError):
    """A judgments, queries or run file for ``shelf eval`` cannot be read as given."""

    status_code = 422


class LimitExceeded(ShelfError):
    """A request is larger than a configured limit (query length, k, batch size); the message
    names the limit and the setting that raises it."""

    status_code = 422


class Unauthorized(ShelfError):
    """A protected endpoint was called without the right API key."""

    status_code = 401


class NotConfigured(ShelfError):
    """A feature needs a setting the server was started without (e.g. ``SHELF_API_KEY``)."""

    status_code = 503


class RerankTimeout(ShelfError):
    """Not every score arrived within the deadline where partial results are not allowed."""

    status_code = 503


class Overloaded(ShelfError):
    """More work is waiting than Shelf may queue; retry shortly or add capacity."""

    status_code = 503


class _Advised(ShelfError):
    """An error whose advice names an HTTP route (``GET /rules lists those that do``):
    ``cli_message``, when given, is the same error as ``shelf`` users are told it, naming the
    command instead (``shelf`` prints it; ``search.cli.main.main``)."""

    def __init__(self, message: str, *, cli_message: str | None = None) -> None:
        super().__init__(message)
        self.cli_message = cli_message or message


class NotFound(_Advised):
    """A named thing (an experiment) does not exist."""

    status_code = 404


class Conflict(_Advised):
    """The request clashes with what is stored (an experiment id already taken)."""

    status_code = 409


class EmbeddingMismatch(ShelfError):
    """The index's vectors were built by another embedding model than the one configured."""

    status_code = 409


class SearchStopped(ShelfError):
    """A search stopped between two steps of its work; ``stage`` names the step it stopped
    before (``understand``, ``typos``, ``synonyms``, ``recall``, ...)."""

    def __init__(self, message: str, *, stage: str) -> None:
        super().__init__(message)
        self.stage = stage


class SearchTimeout(SearchStopped):
    """A search ran past its deadline (``SHELF_SEARCH_DEADLINE_MS``) before it had anything to
    answer with."""

    status_code = 504


class SearchAbandoned(SearchStopped):
    """The client went away: the search's work was dropped. 499 (nginx's "client closed
    request") is what the log and the metrics record; no client is there to read it."""

    status_code = 499
