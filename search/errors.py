"""The exceptions Shelf raises, one small hierarchy so every caller can map them in one place."""

from __future__ import annotations

# The base and the catalog's error live in the lowest layer (catalog imports nothing of search).
from catalog.errors import CatalogError, ShelfError

__all__ = [
    "CatalogError",
    "Conflict",
    "ConfigError",
    "EmbeddingMismatch",
    "EngineFailure",
    "EvaluationInputError",
    "IndexCorrupt",
    "InvalidQuery",
    "InvalidVector",
    "is_engine_panic",
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
    "SpoolUnavailable",
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


class IndexCorrupt(RecallUnavailable):
    """A file of the embedded index failed its check (a checksum, a truncated or unreadable
    file, a non-finite vector): searches refuse to answer from it. ``file`` names it (relative to
    the index directory) and ``fix`` says what to do (re-ingest, ``shelf embed --rebuild``,
    restore)."""

    def __init__(self, file: str, problem: str, fix: str) -> None:
        super().__init__(f"the index file {file} is damaged ({problem}): {fix}")
        self.file = file
        self.problem = problem
        self.fix = fix


class InvalidVector(ShelfError, ValueError):
    """A vector to store is empty, zero, or holds a NaN or an infinity: refused before it is
    written, so no vector in the index can change answers silently."""

    status_code = 422


class EngineFailure(ShelfError):
    """The search engine failed inside (a tantivy panic): answered as a 500, never as results."""

    status_code = 500


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


def is_engine_panic(exc: BaseException) -> bool:
    """A Rust panic surfaced by pyo3 (tantivy's): a ``BaseException`` that is not an
    ``Exception``, so ``except Exception`` handlers let it through."""
    kind = type(exc)
    return kind.__name__ == "PanicException" and kind.__module__ == "pyo3_runtime"


class SpoolUnavailable(ShelfError):
    """Neither the local spool nor the event store can take a write (a full disk, the store
    down): nothing was acknowledged; retry after ``retry_after_s`` seconds."""

    status_code = 503

    def __init__(self, message: str, *, retry_after_s: int = 5) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.headers = {"Retry-After": str(retry_after_s)}


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
