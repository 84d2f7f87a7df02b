"""A query's budget: the most terms and lexical clauses it may search for (``QueryBudget``, cut
by ``search.pipeline.budget``, reported by ``BudgetReport``) and its wall time (``Deadline``).

A deadline is checked between stages and inside the loops that can run long (typo candidates,
synonym expansion, the lexical query's clauses, ranking features). One ``Deadline`` per search:
the service makes it from ``SHELF_SEARCH_DEADLINE_MS`` (or the caller passes one), the HTTP
route cancels it when the client disconnects, and every check point calls ``check(stage)``. A
check costs one clock read, so loops call it per item.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from search.errors import SearchAbandoned, SearchStopped, SearchTimeout
from search.metrics import SEARCH_STOP_SECONDS, SEARCHES_STOPPED

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueryBudget:
    """The most terms and lexical clauses one query may search for."""

    max_terms: int = 64
    max_clauses: int = 256


@dataclass(frozen=True)
class BudgetReport:
    """How a query fared against its budget: whether anything was ``cut``, the terms and
    clauses searched and their limits, the search's deadline (ms), the query's own words left
    out, the correctable words typo tolerance did not try, and how many synonym phrases were
    left out (at least)."""

    cut: bool
    terms: int
    max_terms: int
    clauses: int
    max_clauses: int
    deadline_ms: float | None = None
    words_dropped: tuple[str, ...] = ()
    corrections_dropped: int = 0
    synonyms_dropped: int = 0


class Deadline:
    """When a search must be done (``budget_ms`` after it was made; None: never) and whether
    its caller still waits (``cancel``). Thread-safe: one thread cancels, another checks."""

    def __init__(
        self, budget_ms: float | None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.budget_ms = budget_ms
        self._clock = clock
        self.started = clock()
        self.expires = math.inf if budget_ms is None else self.started + budget_ms / 1000
        self.reason: str | None = None
        self.cancelled_at: float | None = None  # the clock's reading when cancelled

    def cancel(self, reason: str) -> None:
        """Nobody waits for the answer any more (``reason``: why); the next check stops it."""
        if self.cancelled_at is None:
            self.reason = reason
            self.cancelled_at = self._clock()

    @property
    def cancelled(self) -> bool:
        """Whether ``cancel`` was called."""
        return self.cancelled_at is not None

    def expired(self) -> bool:
        """Whether the deadline has passed."""
        return self._clock() >= self.expires

    def remaining_ms(self) -> float:
        """Milliseconds left before the deadline (0 once passed; inf without one)."""
        return max(self.expires - self._clock(), 0.0) * 1000

    def elapsed_ms(self) -> float:
        """Milliseconds since the search started."""
        return (self._clock() - self.started) * 1000

    def check_cancelled(self, stage: str) -> None:
        """``SearchAbandoned`` naming ``stage`` when the search was cancelled."""
        if self.cancelled_at is not None:
            raise SearchAbandoned(
                f"the search was abandoned ({self.reason}) and stopped before {stage}",
                stage=stage,
            )

    def check(self, stage: str) -> None:
        """``SearchAbandoned`` when cancelled, ``SearchTimeout`` when past the deadline; each
        names ``stage``, the step it stopped before."""
        self.check_cancelled(stage)
        if self._clock() >= self.expires:
            raise SearchTimeout(
                f"the search ran past its deadline of {self.budget_ms:g} ms "
                f"(SHELF_SEARCH_DEADLINE_MS) and stopped before {stage}: shorten the query "
                "or retry",
                stage=stage,
            )


def unbounded() -> Deadline:
    """A deadline that never passes and is never cancelled (callers that set none)."""
    return Deadline(None)


def record_stop(deadline: Deadline, stopped: SearchStopped) -> None:
    """Count (``shelf_searches_stopped_total``) and log a search that stopped: the stage it
    stopped before, how long it ran and, when abandoned, how long it took to stop after the
    cancellation (``shelf_search_stop_seconds``)."""
    reason = "abandoned" if isinstance(stopped, SearchAbandoned) else "timeout"
    SEARCHES_STOPPED.labels(reason, stopped.stage).inc()
    fields: dict[str, object] = {
        "stage": stopped.stage,
        "ran_ms": round(deadline.elapsed_ms(), 3),
        "deadline_ms": deadline.budget_ms,
    }
    if deadline.cancelled_at is not None:
        stop_s = max(time.monotonic() - deadline.cancelled_at, 0.0)
        SEARCH_STOP_SECONDS.observe(stop_s)
        fields["stopped_ms_after_cancel"] = round(stop_s * 1000, 3)
        fields["cancel_reason"] = deadline.reason
    log.info("search %s", reason, extra=fields)
