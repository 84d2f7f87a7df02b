"""The celery mode on a real Redis broker, real `shelf worker` processes and the tiny model."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from celery.signals import after_task_publish

from catalog.product import Product
from catalog.samples import sample_queries
from search.pipeline.config import SearchConfig
from search.pipeline.request import search_request
from search.pipeline.service import SearchService
from search.recall import SearchFilters
from search.recall.embedded.backend import EmbeddedRecall
from search.rerank.cache import NoScoreCache, RedisScoreCache, score_key
from search.rerank.rerankers import CeleryReranker, LocalReranker
from search.settings import Settings
from tests.workers.celery_harness import WorkerProcess, wait_until_serving, worker_env
from workers.celery_app import RERANK_TASK, make_celery_app
from workers.rerank.model import RerankModel

QUERY = next(q for q in sample_queries() if q["locale"] == "de-DE")


@pytest.fixture(scope="module")
def queue(run_prefix: str) -> str:
    return f"{run_prefix}-rerank"


@pytest.fixture(scope="module")
def cache_prefix(run_prefix: str) -> str:
    return f"{run_prefix}:score:"


@pytest.fixture(scope="module")
def celery_settings(
    redis_url: str, test_model_dir: Path, queue: str, cache_prefix: str, tmp_path_factory
) -> Settings:
    return Settings(
        rerank_mode="celery",
        redis_url=redis_url,
        rerank_model=str(test_model_dir),
        rerank_queue=queue,
        score_cache_prefix=cache_prefix,
        data_dir=tmp_path_factory.mktemp("celery-data"),
    )


@pytest.fixture(scope="module")
def worker(
    celery_settings: Settings, test_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    env = worker_env(
        redis_url=celery_settings.redis_url,
        model_dir=test_model_dir,
        queue=celery_settings.rerank_queue,
        cache_prefix=celery_settings.score_cache_prefix,
    )
    process = WorkerProcess(env, tmp_path_factory.mktemp("worker") / "worker.log")
    try:
        app = make_celery_app(celery_settings)
        wait_until_serving(app, celery_settings.rerank_queue, _model_id(celery_settings), process)
        yield process
    finally:
        process.stop()


@pytest.fixture
def redis_cache(celery_settings: Settings) -> RedisScoreCache:
    client = redis.Redis.from_url(celery_settings.redis_url)
    return RedisScoreCache(client, prefix=celery_settings.score_cache_prefix)


@pytest.fixture
def tasks_sent() -> Iterator[list[int]]:
    """The number of pairs of every rerank task this process publishes during a test."""
    sizes: list[int] = []

    def record(sender: str | None = None, body: object = None, **_: object) -> None:
        if sender == RERANK_TASK and isinstance(body, tuple | list):
            sizes.append(len(body[0][2]))

    after_task_publish.connect(record, weak=False)
    yield sizes
    after_task_publish.disconnect(record)


def _model_id(settings: Settings) -> str:
    from workers.rerank.model import model_id_of

    return model_id_of(settings.rerank_model, settings.rerank_model_revision)


def _pipeline(
    recall: EmbeddedRecall, settings: Settings, cache: RedisScoreCache, deadline_ms: float = 20_000
) -> SearchService:
    return SearchService(
        recall,
        CeleryReranker(settings),
        cache=cache,
        config=SearchConfig(recall_k=50, deadline_ms=deadline_ms),
    )


def _isolated_query(tag: str) -> str:
    """The sample query with a unique suffix: a cache key no other test has written."""
    return f"{QUERY['text']} {tag}{time.monotonic_ns()}"


def test_celery_scores_equal_local_scores(
    worker: WorkerProcess,
    sample_index: EmbeddedRecall,
    rerank_model: RerankModel,
    celery_settings: Settings,
    redis_cache: RedisScoreCache,
) -> None:
    query = _isolated_query("eq")
    # Both with a deadline no busy machine misses: a degraded side would be in recall order.
    local = SearchService(
        sample_index,
        LocalReranker(rerank_model, NoScoreCache()),
        config=SearchConfig(deadline_ms=20_000),
    )
    remote = _pipeline(sample_index, celery_settings, redis_cache)

    expected = local.search(search_request(query, k=50, product_locale=QUERY["locale"]))
    got = remote.search(search_request(query, k=50, product_locale=QUERY["locale"]))

    assert not expected.degraded and expected.scored == expected.candidates

    assert got.scored == got.candidates > celery_settings.rerank_task_pairs  # several tasks
    assert not got.degraded and got.cached == 0
    assert [i.product_id for i in got.items] == [i.product_id for i in expected.items]
    for mine, theirs in zip(got.items, expected.items, strict=True):
        assert mine.rerank_score == pytest.approx(theirs.rerank_score, abs=1e-5)


def test_second_identical_search_is_served_from_cache_without_a_task(
    worker: WorkerProcess,
    sample_index: EmbeddedRecall,
    celery_settings: Settings,
    redis_cache: RedisScoreCache,
    tasks_sent: list[int],
) -> None:
    query = _isolated_query("cache")
    pipeline = _pipeline(sample_index, celery_settings, redis_cache)

    first = pipeline.search(search_request(query, k=10, product_locale=QUERY["locale"]))
    sent_for_first = len(tasks_sent)
    second = pipeline.search(search_request(query, k=10, product_locale=QUERY["locale"]))

    assert sent_for_first > 0 and first.cached == 0
    assert len(tasks_sent) == sent_for_first  # nothing sent the second time
    assert second.cached == second.scored == second.candidates and not second.degraded
    assert [(i.product_id, i.rerank_score) for i in second.items] == [
        (i.product_id, i.rerank_score) for i in first.items
    ]


def test_changed_product_text_is_not_served_a_stale_score(
    worker: WorkerProcess,
    sample_products: list[Product],
    celery_settings: Settings,
    redis_cache: RedisScoreCache,
    tasks_sent: list[int],
    tmp_path: Path,
) -> None:
    recall = EmbeddedRecall(tmp_path / "index")
    recall.index([p for p in sample_products if p.locale == QUERY["locale"]])
    pipeline = _pipeline(recall, celery_settings, redis_cache)
    query = _isolated_query("stale")
    before = {
        i.product_id: i.rerank_score for i in pipeline.search(search_request(query, k=50)).items
    }
    target = next(p for p in sample_products if p.id == next(iter(before)))

    recall.index([target.model_copy(update={"description": target.description + " Neu: 2 Liter."})])
    tasks_sent.clear()
    after = {
        i.product_id: i.rerank_score for i in pipeline.search(search_request(query, k=50)).items
    }
    recall.close()

    assert tasks_sent == [1]  # exactly the changed product went to a worker
    assert after[target.id] != pytest.approx(before[target.id], abs=1e-6)
    assert {pid: s for pid, s in after.items() if pid != target.id} == {
        pid: s for pid, s in before.items() if pid != target.id
    }


def test_short_deadline_degrades_to_recall_order_and_late_scores_reach_the_cache(
    worker: WorkerProcess,
    sample_index: EmbeddedRecall,
    celery_settings: Settings,
    redis_cache: RedisScoreCache,
) -> None:
    query, filters = _isolated_query("late"), SearchFilters(locale=QUERY["locale"])
    # Warm the cache for the top 5 only, so the hurried search has some scores and misses others.
    _pipeline(sample_index, celery_settings, redis_cache).search(
        search_request(query, k=5, recall_k=5, product_locale=QUERY["locale"])
    )
    hurried = _pipeline(sample_index, celery_settings, redis_cache, deadline_ms=1)

    response = hurried.search(search_request(query, k=50, product_locale=QUERY["locale"]))

    assert response.degraded and response.scored == response.cached == 5
    assert response.candidates > 5
    scored, unscored = response.items[:5], response.items[5:]
    assert all(i.rerank_score is not None for i in scored)
    assert [i.rerank_score for i in scored] == sorted(
        (i.rerank_score for i in scored), reverse=True
    )
    assert all(i.rerank_score is None for i in unscored)
    bm25 = [i.bm25_score for i in unscored]
    assert bm25 == sorted(bm25, reverse=True)  # recall order for the rest

    hits = sample_index.search(query, limit=50, filters=filters)
    keys = [
        score_key(_model_id(celery_settings), query, h.product.id, _text(h.product)) for h in hits
    ]
    deadline = time.monotonic() + 30
    while None in redis_cache.get_many(keys) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert None not in redis_cache.get_many(keys)  # the late work was not lost


def _text(product: Product) -> str:
    from catalog.text import rerank_text

    return rerank_text(product, Settings().rerank_text_max_chars)


@pytest.mark.parametrize("deadline_ms", [300, 1500])
def test_no_worker_answers_in_recall_order_within_the_deadline(
    deadline_ms: int,
    sample_index: EmbeddedRecall,
    celery_settings: Settings,
    redis_cache: RedisScoreCache,
) -> None:
    nobody = celery_settings.model_copy(update={"rerank_queue": "shelf-test-no-consumer"})
    pipeline = _pipeline(sample_index, nobody, redis_cache, deadline_ms=deadline_ms)
    started = time.monotonic()

    response = pipeline.search(search_request(_isolated_query("none"), k=50, product_locale="de"))

    took = time.monotonic() - started
    assert deadline_ms / 1000 <= took <= deadline_ms / 1000 + 0.5, f"{took:.2f}s"
    assert response.degraded and response.scored == 0 and not response.reranked
    assert [i.bm25_score for i in response.items] == sorted(
        (i.bm25_score for i in response.items), reverse=True
    )
    assert pipeline.reranker is not None
    assert pipeline.reranker.queue_depth() > 0  # the unserved tasks wait in the broker
    redis.Redis.from_url(celery_settings.redis_url).delete("shelf-test-no-consumer")


EXPIRED = {
    "by Celery when the worker takes it": {"expires": -1.0},
    "by the task before it scores": {"expires_at": -1.0},
}


@pytest.mark.parametrize("how", EXPIRED)
def test_a_task_whose_search_gave_up_is_dropped_before_scoring(
    how: str,
    worker: WorkerProcess,
    celery_settings: Settings,
    redis_cache: RedisScoreCache,
) -> None:
    app = make_celery_app(celery_settings)
    query, pairs = _isolated_query("expired"), [["p1", "Trinkflasche"], ["p2", "Kaffeemühle"]]
    late = {k: time.time() + v for k, v in EXPIRED[how].items()}
    dropped = app.send_task(
        RERANK_TASK,
        args=(_model_id(celery_settings), query, pairs),
        kwargs={"expires_at": late["expires_at"]} if "expires_at" in late else {},
        expires=datetime.fromtimestamp(late["expires"], tz=UTC) if "expires" in late else None,
        queue=celery_settings.rerank_queue,
    )
    live = app.send_task(
        RERANK_TASK,
        args=(_model_id(celery_settings), query + " live", pairs),
        kwargs={"expires_at": time.time() + 60},
        expires=60,
        queue=celery_settings.rerank_queue,
    )

    assert len(live.get(timeout=30)) == 2
    give_up = time.monotonic() + 10
    while not dropped.ready() and time.monotonic() < give_up:
        time.sleep(0.05)
    assert dropped.state == "REVOKED"
    keys = [score_key(_model_id(celery_settings), query, pid, text) for pid, text in pairs]
    assert redis_cache.get_many(keys) == [None, None]  # no model work was done for it


def test_celery_reranker_is_ready_when_a_worker_answers(
    worker: WorkerProcess, celery_settings: Settings
) -> None:
    reranker = CeleryReranker(celery_settings)
    assert "worker(s) answered" in reranker.ready()
    reranker.close()


def test_broker_down_answers_in_recall_order_within_the_deadline(
    sample_index: EmbeddedRecall, celery_settings: Settings
) -> None:
    down = celery_settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    cache = RedisScoreCache.from_url(down.redis_url, prefix="x:", ttl_s=60, timeout_s=0.2)
    pipeline = SearchService(
        sample_index, CeleryReranker(down), cache=cache, config=SearchConfig(deadline_ms=500)
    )
    started = time.monotonic()

    response = pipeline.search(search_request(QUERY["text"], k=10, product_locale="de"))

    assert time.monotonic() - started < 5.0
    assert response.items and response.degraded and response.scored == 0


@pytest.mark.slow
def test_worker_killed_mid_task_has_its_task_redelivered_and_completed(
    celery_settings: Settings,
    test_model_dir: Path,
    rerank_model: RerankModel,
    run_prefix: str,
    tmp_path: Path,
) -> None:
    queue = f"{run_prefix}-kill"
    settings = celery_settings.model_copy(update={"rerank_queue": queue})
    env = worker_env(
        redis_url=settings.redis_url,
        model_dir=test_model_dir,
        queue=queue,
        cache_prefix=settings.score_cache_prefix,
        SHELF_RERANK_VISIBILITY_TIMEOUT_S="4",
    )
    app = make_celery_app(settings)
    first = WorkerProcess(env, tmp_path / "first.log")
    second: WorkerProcess | None = None
    try:
        wait_until_serving(app, queue, _model_id(settings), first)
        long_text = "Edelstahl Trinkflasche mit Deckel, hält Getränke kalt. " * 60
        pairs = [[f"p{i}", f"{i} {long_text}"] for i in range(384)]
        result = app.send_task(
            RERANK_TASK, args=(_model_id(settings), "flasche", pairs), queue=queue
        )
        deadline = time.monotonic() + 60
        while result.state != "STARTED" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert result.state == "STARTED", first.log_tail()

        os.kill(first.pid, signal.SIGKILL)
        first.process.wait()
        second = WorkerProcess(env, tmp_path / "second.log")
        scores = result.get(timeout=120)

        expected = rerank_model.score("flasche", [text for _, text in pairs])
        assert scores == pytest.approx(expected, abs=1e-5)
    finally:
        first.stop()
        if second is not None:
            second.stop()
        redis.Redis.from_url(settings.redis_url).delete(queue)
