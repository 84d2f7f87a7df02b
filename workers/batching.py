"""Token-budget packing and dynamic batching: the model runs full batches under load.

Callers tokenise in their own thread and hand the token ids to one inference thread. That thread
takes every request waiting at that moment, sorts all their pairs by length, packs them into
batches by a token budget (padding included) and runs them, so concurrent requests share batches
and pay for less padding. The queue is bounded: when it is full, ``submit`` sheds load at once.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

from search.errors import Overloaded

log = logging.getLogger(__name__)

Predict = Callable[[list[list[int]]], list[float]]


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
    future: Future[list[float]] = field(default_factory=Future)
    scores: list[float] = field(default_factory=list)
    remaining: int = 0


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
        self.max_queued_pairs = max_queued_pairs
        self._queue: deque[_Request] = deque()
        self._queued_pairs = 0
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        """Whether the inference thread is still running."""
        return self._thread.is_alive()

    @property
    def queued_pairs(self) -> int:
        """Pairs waiting for the model right now."""
        return self._queued_pairs

    def submit(self, encoded: list[list[int]]) -> Future[list[float]]:
        """Queue token-id sequences for scoring; the future resolves to their scores in order."""
        request = _Request(encoded, scores=[0.0] * len(encoded), remaining=len(encoded))
        if not encoded:
            request.future.set_result([])
            return request.future
        with self._cond:
            if self._closed:
                raise RuntimeError("the batcher is closed")
            if self._queued_pairs and self._queued_pairs + len(encoded) > self.max_queued_pairs:
                raise Overloaded(
                    f"{self._queued_pairs} pairs are already waiting for the reranking model "
                    f"(SHELF_RERANK_MAX_QUEUED_PAIRS={self.max_queued_pairs}); retry shortly "
                    "or add workers"
                )
            self._queue.append(request)
            self._queued_pairs += len(encoded)
            self._cond.notify()
        return request.future

    def close(self) -> None:
        """Stop the inference thread once the queue is drained."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join()

    def _take_all(self) -> list[_Request] | None:
        with self._cond:
            while not self._queue and not self._closed:
                self._cond.wait()
            if not self._queue:
                return None
            taken = list(self._queue)
            self._queue.clear()
            self._queued_pairs = 0
            return taken

    def _run(self) -> None:
        while (requests := self._take_all()) is not None:
            owners = [(r, i) for r in requests for i in range(len(r.encoded))]
            lengths = [len(r.encoded[i]) for r, i in owners]
            try:
                for batch in pack_by_token_budget(lengths, self.token_budget, self.max_pairs):
                    scores = self._predict([owners[j][0].encoded[owners[j][1]] for j in batch])
                    for j, score in zip(batch, scores, strict=True):
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
