"""The ScoreCache seam: pair scores kept so a repeated query never asks the model twice.

A key names the model (id and revision), the normalised query, the product and the exact text
the model read, so a product whose text changes can never be served a stale score.
"""

from __future__ import annotations

import hashlib
import logging
import struct
import threading
import time
from array import array
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from search.errors import ConfigError
from search.metrics import SCORE_CACHE_ERRORS, SCORE_CACHE_LOOKUPS
from search.settings import Settings

log = logging.getLogger(__name__)

KEY_VERSION = "v1"
QUERY_VECTORS_KEPT = 10_000  # the in-process cache keeps this many query vectors at most
_LOG_EVERY_S = 10.0  # while Redis is down, say so at most this often


def query_vector_key(model_id: str, query: str) -> str:
    """The cache key of a query's embedding: a digest of the embedding model and the query."""
    material = "\x1f".join(("query-vector", model_id, query))
    return f"{KEY_VERSION}:{hashlib.blake2b(material.encode('utf-8'), digest_size=20).hexdigest()}"


# Score keys kept by what they digest: a warm search asks for the same pairs' keys again, and
# two digests per candidate were a tenth of its in-process time. The memo is keyed by every
# input, so a changed text (or model, or query) can only miss it, never get another's key.
SCORE_KEYS_KEPT = 65_536  # about 15 MB
_score_keys: dict[tuple[str, str, str, str], str] = {}
_score_keys_lock = threading.Lock()


def score_key(model_id: str, query: str, product_id: str, rerank_text: str) -> str:
    """The cache key of one pair: a digest of what determines the score (memoised)."""
    inputs = (model_id, query, product_id, rerank_text)
    key = _score_keys.get(inputs)
    if key is None:
        key = _score_key(*inputs)
        with _score_keys_lock:
            if len(_score_keys) >= SCORE_KEYS_KEPT:
                del _score_keys[next(iter(_score_keys))]  # the oldest
            _score_keys[inputs] = key
    return key


def _score_key(model_id: str, query: str, product_id: str, rerank_text: str) -> str:
    text_hash = hashlib.sha256(rerank_text.encode("utf-8")).hexdigest()
    material = "\x1f".join((model_id, query, product_id, text_hash))
    return f"{KEY_VERSION}:{hashlib.blake2b(material.encode('utf-8'), digest_size=20).hexdigest()}"


class ScoreCache(Protocol):
    """Pair scores by key. Two engines: Redis (shared by every process) and in-process LRU."""

    def get_many(self, keys: Sequence[str]) -> list[float | None]:
        """The cached score of each key, ``None`` where there is none; never raises."""
        ...

    def put_many(self, scores: Mapping[str, float]) -> None:
        """Store scores; a failure is logged and counted, never raised."""
        ...

    def get_vector(self, key: str) -> list[float] | None:
        """A cached query vector (``query_vector_key``), or ``None``; never raises."""
        ...

    def put_vector(self, key: str, vector: Sequence[float]) -> None:
        """Keep a query vector; a failure is logged and counted, never raised."""
        ...


class NoScoreCache:
    """The cache turned off (``SHELF_SCORE_CACHE=off``): every lookup misses."""

    def get_many(self, keys: Sequence[str]) -> list[float | None]:
        """Nothing is cached."""
        return [None] * len(keys)

    def put_many(self, scores: Mapping[str, float]) -> None:
        """Nothing is kept."""

    def get_vector(self, key: str) -> list[float] | None:
        """Nothing is cached."""
        return None

    def put_vector(self, key: str, vector: Sequence[float]) -> None:
        """Nothing is kept."""


class MemoryScoreCache:
    """The embedded default: a bounded LRU in this process, with the same TTL as Redis."""

    def __init__(self, max_entries: int = 100_000, ttl_s: float = 7 * 86400) -> None:
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self._entries: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._vectors: OrderedDict[str, tuple[list[float], float]] = OrderedDict()
        self._lock = threading.Lock()

    def get_many(self, keys: Sequence[str]) -> list[float | None]:
        """Scores still fresh, refreshed as recently used."""
        now = time.monotonic()
        found: list[float | None] = []
        with self._lock:
            for key in keys:
                entry = self._entries.get(key)
                if entry is None or entry[1] < now:
                    found.append(None)
                    continue
                self._entries.move_to_end(key)
                found.append(entry[0])
        _count(found)
        return found

    def put_many(self, scores: Mapping[str, float]) -> None:
        """Store scores, evicting the least recently used beyond ``max_entries``."""
        expires = time.monotonic() + self.ttl_s
        with self._lock:
            for key, score in scores.items():
                self._entries[key] = (float(score), expires)
                self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def get_vector(self, key: str) -> list[float] | None:
        """A fresh query vector, refreshed as recently used."""
        with self._lock:
            entry = self._vectors.get(key)
            if entry is None or entry[1] < time.monotonic():
                return None
            self._vectors.move_to_end(key)
            return entry[0]

    def put_vector(self, key: str, vector: Sequence[float]) -> None:
        """Keep a query vector; at most ``QUERY_VECTORS_KEPT`` of them."""
        with self._lock:
            self._vectors[key] = (list(vector), time.monotonic() + self.ttl_s)
            self._vectors.move_to_end(key)
            while len(self._vectors) > min(self.max_entries, QUERY_VECTORS_KEPT):
                self._vectors.popitem(last=False)


class RedisScoreCache:
    """Scores in Redis, shared by the API and every worker: one round trip per call, with TTL.

    Redis being down never fails a search: the call is logged, counted and answered as misses.
    """

    def __init__(
        self,
        client: Any,
        *,
        prefix: str = "shelf:score:",
        ttl_s: int = 7 * 86400,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.ttl_s = ttl_s
        self._last_logged = 0.0

    @classmethod
    def from_url(cls, url: str, *, prefix: str, ttl_s: int, timeout_s: float) -> RedisScoreCache:
        """A cache on the Redis at ``url``, with short timeouts so an outage costs little."""
        import redis

        client = redis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )
        return cls(client, prefix=prefix, ttl_s=ttl_s)

    def get_many(self, keys: Sequence[str]) -> list[float | None]:
        """One ``MGET`` for every key of the request."""
        if not keys:
            return []
        try:
            raw = self.client.mget([self.prefix + key for key in keys])
        except Exception as exc:  # any Redis failure means "no cache", never a failed search
            self._failed("get", exc)
            return [None] * len(keys)
        found = [None if value is None else _unpack(value) for value in raw]
        _count(found)
        return found

    def put_many(self, scores: Mapping[str, float]) -> None:
        """One pipelined round trip of ``SET key score EX ttl``."""
        if not scores:
            return
        try:
            pipe = self.client.pipeline(transaction=False)
            for key, score in scores.items():
                pipe.set(self.prefix + key, _pack(score), ex=self.ttl_s)
            pipe.execute()
        except Exception as exc:  # see get_many
            self._failed("put", exc)

    def get_vector(self, key: str) -> list[float] | None:
        """One ``GET``; float32 little-endian bytes."""
        try:
            raw = self.client.get(self.prefix + key)
        except Exception as exc:  # see get_many
            self._failed("get", exc)
            return None
        if not raw or len(raw) % 4:
            return None
        return list(array("f", raw))

    def put_vector(self, key: str, vector: Sequence[float]) -> None:
        """One ``SET key vector EX ttl``."""
        try:
            self.client.set(self.prefix + key, array("f", vector).tobytes(), ex=self.ttl_s)
        except Exception as exc:  # see get_many
            self._failed("put", exc)

    def _failed(self, operation: str, exc: Exception) -> None:
        SCORE_CACHE_ERRORS.labels(operation=operation).inc()
        now = time.monotonic()
        if now - self._last_logged >= _LOG_EVERY_S:
            self._last_logged = now
            log.warning(
                "score cache unavailable, searching without it: %s",
                exc,
                extra={"operation": operation},
            )


def _pack(score: float) -> bytes:
    return struct.pack("<d", score)


def _unpack(value: bytes) -> float | None:
    if len(value) != 8:  # not written by Shelf: treat as a miss
        return None
    return float(struct.unpack("<d", value)[0])


def _count(found: Sequence[float | None]) -> None:
    hits = sum(1 for score in found if score is not None)
    SCORE_CACHE_LOOKUPS.labels(result="hit").inc(hits)
    SCORE_CACHE_LOOKUPS.labels(result="miss").inc(len(found) - hits)


def make_score_cache(settings: Settings, default: str | None = None) -> ScoreCache:
    """The cache the settings name. ``auto`` is ``default`` when given (workers pass "redis"),
    else Redis in celery mode and the in-process LRU in local mode."""
    kind: str = settings.score_cache
    if kind == "auto":
        kind = default or ("redis" if settings.rerank_mode == "celery" else "memory")
    if kind == "off":
        return NoScoreCache()
    if kind == "memory":
        return MemoryScoreCache(settings.score_cache_max_entries, settings.score_cache_ttl_s)
    if kind == "redis":
        return RedisScoreCache.from_url(
            settings.redis_url,
            prefix=settings.score_cache_prefix,
            ttl_s=settings.score_cache_ttl_s,
            timeout_s=settings.score_cache_timeout_ms / 1000,
        )
    raise ConfigError(f"SHELF_SCORE_CACHE={kind} is unknown; use auto, redis, memory or off")
