"""The ScoreCache seam: one contract, run on the real Redis and on the in-process LRU."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from prometheus_client import REGISTRY

from search.rerank.cache import (
    MemoryScoreCache,
    RedisScoreCache,
    ScoreCache,
    make_score_cache,
    score_key,
)
from search.settings import Settings


@pytest.fixture(params=["redis", "memory"])
def cache(request: pytest.FixtureRequest, redis_url: str, run_prefix: str) -> Iterator[ScoreCache]:
    if request.param == "memory":
        yield MemoryScoreCache(max_entries=1000, ttl_s=60)
        return
    client = redis.Redis.from_url(redis_url)
    prefix = f"{run_prefix}:cache:{request.node.name}:"
    yield RedisScoreCache(client, prefix=prefix, ttl_s=60)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


def test_stored_scores_come_back_in_key_order(cache: ScoreCache) -> None:
    cache.put_many({"a": 1.5, "b": -2.25, "c": 0.0})
    assert cache.get_many(["c", "missing", "a", "b"]) == [0.0, None, 1.5, -2.25]


def test_scores_round_trip_exactly(cache: ScoreCache) -> None:
    value = 0.1 + 0.2  # not representable in a short decimal: must survive as a double
    cache.put_many({"x": value})
    assert cache.get_many(["x"]) == [value]


def test_empty_requests_cost_nothing(cache: ScoreCache) -> None:
    cache.put_many({})
    assert cache.get_many([]) == []


def test_a_rewritten_score_replaces_the_old_one(cache: ScoreCache) -> None:
    cache.put_many({"k": 1.0})
    cache.put_many({"k": 2.0})
    assert cache.get_many(["k"]) == [2.0]


def test_scores_expire_after_their_ttl(redis_url: str, run_prefix: str) -> None:
    client = redis.Redis.from_url(redis_url)
    caches: list[ScoreCache] = [
        RedisScoreCache(client, prefix=f"{run_prefix}:ttl:", ttl_s=1),
        MemoryScoreCache(ttl_s=0.5),
    ]
    for cache in caches:
        cache.put_many({"k": 1.0})
        assert cache.get_many(["k"]) == [1.0]
    time.sleep(1.2)
    assert [c.get_many(["k"]) for c in caches] == [[None], [None]]


def test_memory_cache_evicts_the_least_recently_used() -> None:
    cache = MemoryScoreCache(max_entries=2)
    cache.put_many({"a": 1.0, "b": 2.0})
    cache.get_many(["a"])  # a is now more recent than b
    cache.put_many({"c": 3.0})
    assert cache.get_many(["a", "b", "c"]) == [1.0, None, 3.0]


class CountingRedis:
    """The real Redis client, counting the round trips made through it."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.round_trips = 0

    def mget(self, keys: list[str]) -> Any:
        self.round_trips += 1
        return self.client.mget(keys)

    def pipeline(self, transaction: bool = True) -> Any:
        pipe = self.client.pipeline(transaction=transaction)
        execute = pipe.execute

        def counted() -> Any:
            self.round_trips += 1
            return execute()

        pipe.execute = counted  # type: ignore[method-assign]
        return pipe


def test_redis_cache_makes_one_round_trip_per_call(redis_url: str, run_prefix: str) -> None:
    client = CountingRedis(redis.Redis.from_url(redis_url))
    cache = RedisScoreCache(client, prefix=f"{run_prefix}:trips:", ttl_s=60)
    cache.put_many({f"k{i}": float(i) for i in range(50)})
    assert cache.get_many([f"k{i}" for i in range(50)]) == [float(i) for i in range(50)]
    assert client.round_trips == 2


class BrokenRedis:
    """A Redis connection that has gone away: every call raises the client's own error."""

    def mget(self, keys: list[str]) -> Any:
        raise redis.ConnectionError("Connection refused (injected)")

    def pipeline(self, transaction: bool = True) -> Any:
        raise redis.ConnectionError("Connection refused (injected)")


def test_redis_down_is_answered_as_misses_logged_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = RedisScoreCache(BrokenRedis(), prefix="x:")
    before = (
        REGISTRY.get_sample_value("shelf_score_cache_errors_total", {"operation": "get"}) or 0.0
    )

    cache.put_many({"k": 1.0})
    found = cache.get_many(["k", "l"])

    assert found == [None, None]
    after = REGISTRY.get_sample_value("shelf_score_cache_errors_total", {"operation": "get"})
    assert after == before + 1
    assert "score cache unavailable" in caplog.text


def test_real_unreachable_redis_costs_at_most_its_timeout() -> None:
    cache = RedisScoreCache.from_url("redis://127.0.0.1:1/0", prefix="x:", ttl_s=60, timeout_s=0.2)
    started = time.monotonic()
    assert cache.get_many(["k"]) == [None]
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize(
    "change",
    [
        {"model_id": "BAAI/bge-reranker-v2-m3@other-revision"},
        {"query": "wasserflasche 1l"},
        {"product_id": "p-2"},
        {"rerank_text": "Water bottle, 1 l (new text)"},
    ],
    ids=["model", "query", "product", "text"],
)
def test_key_changes_with_everything_the_score_depends_on(change: dict[str, str]) -> None:
    pair = {
        "model_id": "BAAI/bge-reranker-v2-m3@default",
        "query": "wasserflasche",
        "product_id": "p-1",
        "rerank_text": "Water bottle, 750 ml",
    }
    assert score_key(**pair) == score_key(**pair)
    assert score_key(**{**pair, **change}) != score_key(**pair)


def test_auto_cache_is_redis_in_celery_mode_and_memory_locally(redis_url: str) -> None:
    local = make_score_cache(Settings(rerank_mode="local"))
    celery = make_score_cache(Settings(rerank_mode="celery", redis_url=redis_url))
    assert isinstance(local, MemoryScoreCache) and isinstance(celery, RedisScoreCache)
    assert make_score_cache(Settings(score_cache="off")).get_many(["k"]) == [None]


def test_query_vectors_round_trip_at_float32_precision(cache: ScoreCache) -> None:
    from search.rerank.cache import query_vector_key

    key = query_vector_key("model@rev", "noise cancelling headphones")
    assert cache.get_vector(key) is None
    vector = [0.1, -0.25, 0.5, 1e-7]
    cache.put_vector(key, vector)
    stored = cache.get_vector(key)
    assert stored == pytest.approx(vector, rel=1e-6)
    assert cache.get_vector(query_vector_key("other@rev", "noise cancelling headphones")) is None


def test_a_vector_key_never_collides_with_a_score_key() -> None:
    from search.rerank.cache import query_vector_key

    assert query_vector_key("m", "q") != score_key("m", "q", "", "")


def test_a_memoised_score_key_is_the_digest_of_its_inputs() -> None:
    from search.rerank.cache import _score_key

    pair = ("m@default", "wasserflasche", "p-1", "Water bottle, 750 ml")
    assert score_key(*pair) == score_key(*pair) == _score_key(*pair)
    changed = (*pair[:3], "Water bottle, 1 l (new text)")
    assert score_key(*changed) == _score_key(*changed) != score_key(*pair)
