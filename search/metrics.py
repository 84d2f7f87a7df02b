"""Counters and histograms Shelf exports in Prometheus format (``GET /metrics`` serves them)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

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
RERANK_PAIRS_EXPIRED = Counter(
    "shelf_rerank_pairs_expired_total",
    "Pairs dropped unscored because their search had stopped waiting (deadline passed).",
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

# Latency buckets in seconds, fine below 100 ms where a search should land.
_LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)

HTTP_REQUESTS = Counter(
    "shelf_http_requests_total", "HTTP requests answered.", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "shelf_http_request_seconds",
    "HTTP request latency, from the first byte in to the last byte out.",
    ["route"],
    buckets=_LATENCY_BUCKETS,
)
SEARCH_STAGE_LATENCY = Histogram(
    "shelf_search_stage_seconds",
    "Time spent per search stage (recall, rerank, total).",
    ["stage"],
    buckets=_LATENCY_BUCKETS,
)
RERANK_QUEUE_DEPTH = Gauge(
    "shelf_rerank_queue_depth",
    "Pairs waiting for the model (local mode) or rerank tasks waiting in the broker (celery).",
)
IMPRESSIONS_WRITTEN = Counter(
    "shelf_impressions_written_total", "Search impressions written to the event store."
)
IMPRESSIONS_DROPPED = Counter(
    "shelf_impressions_dropped_total",
    "Search impressions dropped: queue_full, rejected (a row the store refused), store_error "
    "(the store failed, not as an outage), unwritable (neither the spool nor the store could "
    "take them at shutdown). An outage spools them instead.",
    ["reason"],
)
IMPRESSION_QUEUE_DEPTH = Gauge(
    "shelf_impression_queue_depth", "Search impressions waiting to be written."
)
EVENTS_STORED = Counter(
    "shelf_events_stored_total", "Events (clicks, add to cart, purchases) newly stored."
)
SHED_REQUESTS = Counter(
    "shelf_shed_requests_total",
    "Searches answered 503 at admission: too many in flight, the model too far behind, or "
    "too long a wait for a server thread (overload).",
)
STORE_ROWS_REJECTED = Counter(
    "shelf_event_store_rows_rejected_total",
    "Rows the event store could not take (invalid text, too long), dropped one by one so the "
    "rest of their batch was stored.",
    ["table"],
)
IMPRESSION_ID_CONFLICTS = Counter(
    "shelf_impression_request_id_conflicts_total",
    "Impressions whose request id already had one (a caller's id reused across processes): "
    "stored under a derived id instead of being lost.",
)
SPOOL_DEPTH = Gauge(
    "shelf_spool_depth",
    "Impressions and events waiting in the local spool for the event store (0 when it is up).",
)
SPOOL_OLDEST_AGE = Gauge(
    "shelf_spool_oldest_age_seconds", "How long the oldest record in the spool has waited."
)
SPOOL_DRAINED = Counter(
    "shelf_spool_drained_total",
    "Records drained from the spool to the event store once it was back.",
    ["kind"],
)
SPOOL_DROPPED = Counter(
    "shelf_spool_dropped_total",
    "Records that left the spool without being stored: rejected (the store refused the row), "
    "no_search (an event whose search never appeared; kept in the spool file as orphaned).",
    ["reason"],
)
IMPRESSIONS_OVERFLOWED = Counter(
    "shelf_impressions_overflowed_total",
    "Search impressions appended to the spool by the search itself because the writer's queue "
    "was full (the event store slow): kept, not dropped.",
)
DEPENDENCY_UP = Gauge(
    "shelf_dependency_up",
    "1 when an optional dependency answered its last check (/readyz or a /metrics scrape), "
    "0 when it did not: redis (the score cache), event_store. Search works without either.",
    ["dependency"],
)
SNAPSHOT_STALE = Gauge(
    "shelf_snapshot_stale",
    "1 when a snapshot read from the event store (synonyms, rules, experiments, suggestions) "
    "could not be reloaded and its last good copy is served.",
    ["part"],
)
SNAPSHOT_AGE = Gauge(
    "shelf_snapshot_age_seconds",
    "Seconds since the event store last confirmed a snapshot (synonyms, rules, experiments, "
    "suggestions); absent until it has.",
    ["part"],
)
QUERY_BUDGET_CUTS = Counter(
    "shelf_query_budget_cuts_total",
    "Searches whose query was cut to its budget (SHELF_SEARCH_MAX_TERMS, "
    "SHELF_SEARCH_MAX_CLAUSES): the response's budget says what was left out.",
)
SEARCHES_STOPPED = Counter(
    "shelf_searches_stopped_total",
    "Searches stopped before their answer: the client went away (abandoned) or the search "
    "deadline passed (timeout); stage: the step it stopped before.",
    ["reason", "stage"],
)
SEARCH_STOP_SECONDS = Histogram(
    "shelf_search_stop_seconds",
    "From an abandoned search's cancellation (the client disconnected) to its work stopping.",
    buckets=_LATENCY_BUCKETS,
)
