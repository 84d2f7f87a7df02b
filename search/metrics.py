"""Counters and histograms Shelf exports in Prometheus format (``GET /metrics`` serves them)."""

from __future__ import annotations

from prometheus_client import Counter

SCORE_CACHE_LOOKUPS = Counter(
    "shelf_score_cache_lookups_total", "Pair scores looked up in the score cache.", ["result"]
)
SCORE_CACHE_ERRORS = Counter(
    "shelf_score_cache_errors_total",
    "Score-cache calls that failed (the search went on without the cache).",
    ["operation"],
)
RERANK_PAIRS_SCORED = Counter(
    "shelf_rerank_pairs_scored_total", "(query, product) pairs scored by the model.", ["where"]
)
RERANK_TASKS_SENT = Counter("shelf_rerank_tasks_sent_total", "Rerank tasks sent to workers.")
RERANK_TASK_FAILURES = Counter(
    "shelf_rerank_task_failures_total",
    "Rerank tasks that could not be sent or that failed.",
    ["reason"],
)
DEGRADED_RESPONSES = Counter(
    "shelf_degraded_responses_total",
    "Searches answered with some candidates unscored (deadline, no worker, overload).",
)
