"""Token-budget packing and dynamic batching: the model runs full batches under load.

Callers tokenise in their own thread and hand the token ids to one inference thread. That thread
takes the requests waiting at that moment in arrival order (whole requests, about one batch of
pairs per round, so the oldest is served first), sorts their pairs by length, packs them into
batches by a token budget (padding included) and runs them, so concurrent requests share batches
and pay for less padding.

The queue is bounded in time, not in count: every request carries its deadline, and ``submit``
refuses at once (``Overloaded``) when the pairs already waiting, at the model's measured rate
(pairs per second, a moving average over real rounds), would not be scored before it. A request
whose deadline has passed is dropped before each forward pass: the model never scores pairs for
a caller that has stopped waiting.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

from search.errors import Overloaded, RerankTimeout
from search.metrics import RERANK_PAIRS_EXPIRED

log = logging.getLogger(__name__)

Predict = Callable[[list[list[int]]], list[float]]

RATE_SMOOTHING = 0.3  # weight of the newest round in the moving average of pairs per second


def pack_by_token_budget(
    lengths: Sequence[int], token_budget: int, max_pairs: int
) -> list[list[int]]:
    """Indices grouped into batches, longest first; a batch costs ``len * longest`` tokens.

    Every batch holds at least one pair, so a pair longer than the budget still runs alone.
    """
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for i in order:
        width = max(longest, lengths[i])
        if current and ((len(current) + 1) * width > token_budget or len(current) >= max_pairs):
            batches.append(current)
            current, width = [], lengths[i]
        current.append(i)
        longest = width
    if current:
        batches.append(current)
    return batches


@dataclass
class _Request:
    encoded: list[list[int]]
    deadline: float | None  # time.monotonic() instant after which nobody waits; None: never
    future: Future[list[float]] = field(default_factory=Future)
    scores: list[float] = field(default_factory=list)
    remaining: int = 0

    def expired(self, now: float) -> bool:
        return self.deadline is not None and now >= self.deadline


class DynamicBatcher:
    """One inference thread that coalesces concurrent requests into shared packed batches."""

    def __init__(
        self,
        predict: Predict,
        *,
        token_budget: int,
        max_pairs: int,
        max_queued_pairs: int,
        name: str = "shelf-rerank-batcher",
    ) -> None:
        self._predict = predict
        self.token_budget = token_budget
        self.max_pairs = max_pairs
        self.max_queued_pairs = max_queued_pairs  # a memory ceiling; the time limit binds first
        self._queue: deque[_Request] = deque()
        self._queued_pairs = 0
        self._running_pairs = 0  # pairs of the round in progress not yet scored
        self._running_requests = 0
        self._rate: float | None = None  # pairs per second, measured on real rounds
        self._cond = threading.Condition()
        self._closed = False
        self.scored_pairs = 0  # pairs the model has scored, for tests and benchmarks
        self.expired_pairs = 0  # pairs dropped because their caller had stopped waiting
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        """Whether the inference thread is still running."""
        return self._thread.is_alive()

    @property
    def queued_pairs(self) -> int:
        """Pairs waiting for the model right now (the round in progress not included)."""
        return self._queued_pairs

    @property
    def rate(self) -> float | None:
        """Pairs per second the model scored, a moving average over recent rounds (warm-up
        included); None before the first round."""
        return self._rate

    @property
    def requests_in_model(self) -> int:
        """Requests queued or in the round being scored."""
        return len(self._queue) + self._running_requests

    def forget_rate(self) -> None:
        """Drop the measured rate (after a cold first pass that would understate it)."""
        self._rate = None

    def wait_estimate_s(self) -> float | None:
        """Seconds until the model would finish the pairs queued and running now, at its
        measured rate; None while the rate is unknown."""
        rate = self._rate
        if rate is None:
            return None
        return (self._queued_pairs + self._running_pairs) / rate

    def check_room(self, pairs: int, deadline: float | None) -> None:
        """Raise ``Overloaded`` unless ``pairs`` more could be scored before ``deadline``.

        Cheap and lock-free, so a caller can ask before it spends time tokenising. With nothing
        queued there is always room: an idle model must take work to measure its rate.
        """
        if self._closed:
            raise Overloaded("the reranking model is shutting down; retry on another server")
        backlog = self._queued_pairs + self._running_pairs
        if not backlog or not pairs:
            return
        if self._queued_pairs and self._queued_pairs + pairs > self.max_queued_pairs:
            raise Overloaded(
                f"{self._queued_pairs} pairs are already waiting for the reranking model "
                f"(SHELF_RERANK_MAX_QUEUED_PAIRS={self.max_queued_pairs}); retry shortly "
                "or add workers"
            )
        rate = self._rate
        if deadline is None or rate is None:
            return
        needed = (backlog + pairs) / rate
        left = deadline - time.monotonic()
        if needed > left:
            raise Overloaded(
                f"the reranking model would need {needed * 1000:.0f} ms for the {backlog} pairs "
                f"waiting and these {pairs} (at {rate:.0f} pairs/s); the search has "
                f"{max(left, 0) * 1000:.0f} ms left (SHELF_RERANK_DEADLINE_MS); retry shortly"
            )

    def submit(
        self, encoded: list[list[int]], deadline: float | None = None
    ) -> Future[list[float]]:
        """Queue token-id sequences for scoring; the future resolves to their scores in order.

        ``deadline`` (a ``time.monotonic()`` instant) is when the caller stops waiting: the
        request is refused if it cannot be scored by then, and dropped unscored (the future
        fails with ``RerankTimeout``) if it is still queued then.
        """
        request = _Request(encoded, deadline, scores=[0.0] * len(encoded), remaining=len(encoded))
        if not encoded:
            request.future.set_result([])
            return request.future
        with self._cond:
            if self._closed:
                raise Overloaded("the reranking model is shutting down; retry on another server")
            self.check_room(len(encoded), deadline)
            self._queue.append(request)
            self._queued_pairs += len(encoded)
            self._cond.notify()
        return request.future

    def close(self) -> None:
        """Stop the inference thread: the batch running finishes, queued requests are dropped
        (their futures fail with ``Overloaded``), so a stop takes one forward pass at most."""
        with self._cond:
            self._closed = True
            dropped = list(self._queue)
            self._queue.clear()
            self._queued_pairs = 0
            self._cond.notify()
        for request in dropped:
            if not request.future.done():
                request.future.set_exception(
                    Overloaded("the server is stopping: this search's pairs were not scored")
                )
        self._thread.join()

    def _take_round(self) -> list[_Request] | None:
        """The oldest waiting requests, whole, up to about one batch of pairs (at least one)."""
        with self._cond:
            while not self._queue and not self._closed:
                self._cond.wait()
            if self._closed:
                return None
            taken: list[_Request] = []
            pairs = 0
            while self._queue and (
                not taken or pairs + len(self._queue[0].encoded) <= self.max_pairs
            ):
                request = self._queue.popleft()
                taken.append(request)
                pairs += len(request.encoded)
            self._queued_pairs -= pairs
            self._running_pairs = pairs
            self._running_requests = len(taken)
            return taken

    def _expire(self, request: _Request, now: float) -> None:
        """Fail a request whose caller stopped waiting, without scoring what is left of it."""
        if request.future.done():
            return
        self.expired_pairs += request.remaining
        RERANK_PAIRS_EXPIRED.inc(request.remaining)
        self._running_pairs -= request.remaining
        request.future.set_exception(
            RerankTimeout(
                f"dropped {(now - (request.deadline or now)) * 1000:.0f} ms after its deadline"
            )
        )

    def _run(self) -> None:
        while (requests := self._take_round()) is not None:
            started = time.monotonic()
            owners = [(r, i) for r in requests for i in range(len(r.encoded))]
            lengths = [len(r.encoded[i]) for r, i in owners]
            scored = 0
            try:
                for batch in pack_by_token_budget(lengths, self.token_budget, self.max_pairs):
                    now = time.monotonic()
                    for request in {id(owners[j][0]): owners[j][0] for j in batch}.values():
                        if request.expired(now):
                            self._expire(request, now)
                    live = [j for j in batch if not owners[j][0].future.done()]
                    if not live:
                        continue
                    scores = self._predict([owners[j][0].encoded[owners[j][1]] for j in live])
                    scored += len(live)
                    self._running_pairs -= len(live)
                    for j, score in zip(live, scores, strict=True):
                        request, i = owners[j]
                        request.scores[i] = score
                        request.remaining -= 1
                        if request.remaining == 0:
                            # Answer each request as soon as its last pair is scored.
                            request.future.set_result(request.scores)
            except BaseException as exc:  # the thread must survive to serve the next requests
                log.exception("rerank batch failed")
                for request in requests:
                    if not request.future.done():
                        request.future.set_exception(exc)
            finally:
                self._running_pairs = 0
                self._running_requests = 0
            self.scored_pairs += scored
            if scored:
                sample = scored / max(time.monotonic() - started, 1e-6)
                self._rate = (
                    sample
                    if self._rate is None
                    else self._rate + RATE_SMOOTHING * (sample - self._rate)
                )
