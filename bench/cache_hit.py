"""Latency of a fully cached rerank of 50 candidates against the real Redis.

Warms the Redis score cache for eight sample queries (one per language) with the tiny test
model, then runs the rerank stage of the search pipeline in celery mode, where every candidate
is a cache hit and no task is sent: candidate texts, keys, one MGET, ordering. For scale it also
times the same stage computed by the tiny model in-process (no cache).

Ends with ``RESULT p50_ms=<a> p99_ms=<b>``. Run: ``make bench`` or ``python -m bench.cache_hit``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

from bench.common import hardware, percentile


def main(argv: list[str] | None = None) -> int:
    """Warm, measure, print the RESULT line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--candidates", type=int, default=50)
    args = parser.parse_args(argv)

    import redis

    from catalog.ingest import ingest_file
    from catalog.samples import SAMPLE_CATALOG, sample_queries
    from search.pipeline.config import SearchConfig
    from search.pipeline.request import search_request
    from search.pipeline.service import SearchService
    from search.recall.embedded.backend import EmbeddedRecall
    from search.rerank.cache import NoScoreCache, RedisScoreCache
    from search.rerank.rerankers import CeleryReranker, LocalReranker
    from search.settings import Settings
    from workers.rerank.model import ModelSpec, RerankModel
    from workers.tiny_model import build_test_model, catalog_texts

    print(hardware())
    work = Path(tempfile.mkdtemp(prefix="shelf-bench-cache-"))
    model_dir = build_test_model(work / "model", catalog_texts(SAMPLE_CATALOG), seed=0)
    recall = EmbeddedRecall(work / "index")
    ingest_file(SAMPLE_CATALOG, recall)
    prefix = f"shelf-bench-{uuid.uuid4().hex[:8]}:"
    client = redis.Redis.from_url(args.redis_url)
    cache = RedisScoreCache(client, prefix=prefix, ttl_s=600)
    settings = Settings(
        rerank_mode="celery",
        redis_url=args.redis_url,
        rerank_model=str(model_dir),
        rerank_queue=f"{prefix}no-worker",
        data_dir=work,
    )
    model = RerankModel(ModelSpec(str(model_dir), device="cpu", allow_random_weights=True))
    queries = list({q["locale"]: q for q in sample_queries()}.values())
    k = args.candidates

    def search(service: SearchService, query: dict[str, str]) -> tuple[float, int]:
        response = service.search(
            search_request(query["text"], k=k, recall_k=k, product_locale=query["locale"])
        )
        return response.timings_ms["rerank"], response.cached

    warm = SearchService(recall, LocalReranker(model, cache), cache=cache)
    uncached = SearchService(recall, LocalReranker(model, NoScoreCache()))
    served = SearchService(
        recall, CeleryReranker(settings), cache=cache, config=SearchConfig(deadline_ms=1000)
    )
    print(
        f"warming {len(queries)} queries x {k} candidates into {args.redis_url} ...",
        file=sys.stderr,
    )
    for query in queries:
        search(warm, query)
    cold_ms = [search(uncached, queries[i % len(queries)])[0] for i in range(40)]

    warm_ms: list[float] = []
    for i in range(args.iterations):
        ms, cached = search(served, queries[i % len(queries)])
        if cached == 0:
            raise SystemExit("the cache was not hit: is Redis running?")
        warm_ms.append(ms)
        if (i + 1) % 500 == 0:
            print(f"  {i + 1}/{args.iterations}", file=sys.stderr)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    model.close()

    p50, p99 = percentile(warm_ms, 0.50), percentile(warm_ms, 0.99)
    cold = statistics.median(cold_ms)
    print(f"rerank stage, {k} candidates, all cached in Redis: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    print(
        f"same stage scored by the tiny model in-process:    p50 {cold:.2f} ms "
        f"({cold / p50:.1f}x the cached p50; the full-size model costs far more)"
    )
    print(f"RESULT p50_ms={p50:.2f} p99_ms={p99:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
