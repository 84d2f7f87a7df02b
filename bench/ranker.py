"""What the learned ranker costs: the rank stage's ``ranker`` time (features and LightGBM) per
search, for up to 200 candidates, on one core.

The sample catalog is indexed (with vectors) into a temporary data dir; every sample query
(same-language and cross-language) is searched warm, hybrid, not reranked, with a rerank window
of 100 (the ranker sees both legs' candidates: up to 200), first with the shipped default ranker
and then with ``ranker=none``, interleaved query by query so both see the same noise. Printed:
the ``ranker`` stage's p50/p99 and the candidates it ordered, and the whole search's p50 with
and without the ranker. The sample catalog rarely gives 200 candidates, so the stage's own work
(``candidate_features``, the model, ``learned_head``) is also timed on exactly 200: each query's
plan against 200 catalog products with seeded recall scores (``ranker_200_p50_ms``, the budget
being 5 ms).

Ends with ``RESULT ranker_200_p50_ms=<x> ranker_p50_ms=<y> ranker_p99_ms=<z> candidates_p50=<n>
search_p50_ms=<a> search_none_p50_ms=<b>``.
Run: ``python -m bench.ranker [--rounds 3] [--recall-k 100]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import hardware, percentile

DATA = Path(__file__).resolve().parent.parent / "catalog" / "data"
QUERY_FILES = ("sample_queries.jsonl", "sample_queries_xling.jsonl")


def main(argv: list[str] | None = None) -> int:
    """Time the ranker stage over the sample queries and print the RESULT line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="passes over the queries")
    parser.add_argument("--recall-k", type=int, default=100, help="rerank window (pool: 2x)")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    print(hardware(), file=sys.stderr)

    from catalog.samples import SAMPLE_CATALOG
    from search.evaluation.judgments import read_queries
    from search.evaluation.run import catalog_index
    from search.pipeline.request import search_request
    from search.pipeline.service import make_service
    from search.ranking.model import load_ranker
    from search.settings import Settings

    queries = [q for name in QUERY_FILES for q in read_queries(DATA / name)]
    with tempfile.TemporaryDirectory(prefix="shelf-bench-ranker-") as tmp:
        settings = Settings(data_dir=Path(tmp), recall_mode="hybrid", score_cache="memory")
        with catalog_index(SAMPLE_CATALOG, settings, embed=True) as (recall, _):
            service = make_service(settings, rerank=False, recall=recall)
            ranked = service.with_config(ranker=load_ranker("default"))
            fused = service.with_config(ranker=None)
            ranker_ms: list[float] = []
            candidates: list[float] = []
            search_ms: list[float] = []
            none_ms: list[float] = []
            try:
                fixed_200 = _fixed_pool(service, queries, args.rounds)
                for round_no in range(args.rounds + 1):  # round 0 warms the caches
                    for query in queries:
                        request = search_request(
                            query.text, lang=query.locale, rerank=False, recall="hybrid",
                            recall_k=args.recall_k, size=10,
                        )  # fmt: skip
                        with_ranker = ranked.search(request)
                        without = fused.search(request)
                        if round_no == 0 or "ranker" not in with_ranker.timings_ms:
                            continue  # warming, or nothing found (no rank stage to time)
                        ranker_ms.append(with_ranker.timings_ms["ranker"])
                        candidates.append(with_ranker.candidates)
                        search_ms.append(with_ranker.timings_ms["total"])
                        none_ms.append(without.timings_ms["total"])
                    print(f"  round {round_no}/{args.rounds}", file=sys.stderr)
            finally:
                if service.embedder is not None:
                    service.embedder.close()
    p50, p99 = percentile(ranker_ms, 0.5), percentile(ranker_ms, 0.99)
    print(
        f"ranker stage: p50 {p50:.2f} ms, p99 {p99:.2f} ms for a median of "
        f"{percentile(candidates, 0.5):.0f} candidates (max {max(candidates):.0f}); search p50 "
        f"{percentile(search_ms, 0.5):.1f} ms with the ranker, {percentile(none_ms, 0.5):.1f} ms "
        "without"
    )
    print(f"ranker on 200 candidates: p50 {percentile(fixed_200, 0.5):.2f} ms")
    print(
        f"RESULT ranker_200_p50_ms={percentile(fixed_200, 0.5):.2f} "
        f"ranker_p50_ms={p50:.2f} ranker_p99_ms={p99:.2f} "
        f"candidates_p50={percentile(candidates, 0.5):.0f} "
        f"search_p50_ms={percentile(search_ms, 0.5):.1f} "
        f"search_none_p50_ms={percentile(none_ms, 0.5):.1f}"
    )
    return 0


def _fixed_pool(service: Any, queries: list[Any], rounds: int) -> list[float]:
    """Milliseconds of features, scores and the ordered head for 200 candidates per query."""
    import numpy as np

    from search.pipeline.request import search_request
    from search.ranking.features import candidate_features
    from search.ranking.model import load_ranker
    from search.recall import RecallHit
    from search.recall.fusion import FusedHit
    from search.results.head import learned_head

    ranker = load_ranker("default")
    assert ranker is not None
    from catalog.product import Product
    from catalog.readers import read_jsonl
    from catalog.samples import SAMPLE_CATALOG

    records = [r.data for r in read_jsonl(SAMPLE_CATALOG) if r.data is not None]
    pool_products = [Product.model_validate(r) for r in records][::3][:200]
    timings: list[float] = []
    rng = np.random.default_rng(0)
    for round_no in range(rounds + 1):
        for query in queries:
            plan = service.understand(search_request(query.text, lang=query.locale, size=10))
            bm25 = np.sort(rng.gamma(2.0, 3.0, len(pool_products)))[::-1]
            cosine = rng.uniform(0.1, 0.7, len(pool_products))
            pool = [
                FusedHit(
                    RecallHit(product, float(bm25[i]) if i % 2 else 0.0, float(cosine[i])),
                    i + 1 if i % 2 else None,
                    i + 1,
                    1.0 / (60 + i + 1),
                )  # fmt: skip
                for i, product in enumerate(pool_products)
            ]
            started = time.perf_counter()
            features = candidate_features(plan, pool)
            learned_head(pool, ranker.score(features), None, 100)
            if round_no:
                timings.append((time.perf_counter() - started) * 1000)
    return timings


if __name__ == "__main__":
    sys.exit(main())
