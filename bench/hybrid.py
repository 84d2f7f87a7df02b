"""Cross-lingual hybrid recall, what it costs: the bundled default embedding model's speed, the
latency hybrid recall adds over BM25 on the sample index, and the dense index's memory.

1. embedding throughput (products/s) over the sample catalog's embed texts
   (``catalog.text.embed_text``): one process with one thread against the multi-process pass
   (``workers.embedding.pool.EmbeddingPool``, 2 processes or the cores available), and the ratio;
2. query embedding p50/p99: one query per call, the 160 sample queries (same-language and
   cross-lingual files);
3. search latency on the sample index (ingested with ``catalog.ingest.ingest_file`` into a temp
   data dir, then the embedding pass): ``service.search`` of the top 10, not reranked, for bm25
   and hybrid over every sample query, warm, interleaved query by query so both see the same noise.
   The headline numbers have the query-vector cache off (``score_cache=off``: every timed hybrid
   query embeds its text); the cached line beside them is hybrid with the in-process cache warm;
4. memory: the RSS the dense index adds at two catalog sizes (``bench/dense_index.py``'s child
   process, with the default model's dimension).

Progress goes to stderr; ends with one ``RESULT key=value ...`` line.
Run: ``python -m bench.hybrid [--sizes 50000 200000] [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import hardware, percentile

DATA = Path(__file__).resolve().parent.parent / "catalog" / "data"
QUERY_FILES = ("sample_queries.jsonl", "sample_queries_xling.jsonl")


def _ms(timings: list[float]) -> tuple[float, float]:
    return percentile(timings, 0.5), percentile(timings, 0.99)


def throughput(embedder: Any, texts: list[str], batch_size: int) -> tuple[float, float]:
    """Products/s (wall) and products per CPU-second of this process embedding ``texts``."""
    from workers.embedding.model import embed_in_batches

    started, cpu_started = time.perf_counter(), time.process_time()
    embed_in_batches(embedder, texts, batch_size=batch_size)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return len(texts) / wall, len(texts) / max(cpu, 1e-9)


def query_latencies(embedder: Any, queries: list[str], rounds: int) -> list[float]:
    """Milliseconds of each single-query ``embed_queries`` call, ``rounds`` passes."""
    timings = []
    for _ in range(rounds):
        for query in queries:
            started = time.perf_counter()
            embedder.embed_queries([query])
            timings.append((time.perf_counter() - started) * 1000)
    return timings


def search_latencies(
    pipelines: dict[str, tuple[Any, str]], queries: list[str], rounds: int
) -> dict[str, list[float]]:
    """Milliseconds per ``search`` for each named ``(pipeline, recall_mode)``, one untimed warm
    round first, then ``rounds`` timed ones; the pipelines take turns on each query."""
    from search.pipeline.request import search_request

    timings: dict[str, list[float]] = {name: [] for name in pipelines}
    for round_no in range(rounds + 1):
        for query in queries:
            for name, (pipeline, mode) in pipelines.items():
                started = time.perf_counter()
                pipeline.search(search_request(query, k=10, rerank=False, recall=mode))
                if round_no:
                    timings[name].append((time.perf_counter() - started) * 1000)
        print(f"  search round {round_no}/{rounds} done", file=sys.stderr)
    return timings


def dense_memory(size: int, dim: int) -> dict[str, float]:
    """``bench.dense_index``'s child at ``size`` products of ``dim``-d vectors."""
    with tempfile.TemporaryDirectory(prefix="shelf-bench-dense-") as workdir:
        out = subprocess.run(
            [sys.executable, "-m", "bench.dense_index", "--child", str(size),
             "--workdir", workdir, "--dim", str(dim)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _size_key(size: int) -> str:
    return f"{size // 1000}k" if size % 1000 == 0 else str(size)


def _step(label: str) -> Callable[[str], None]:
    print(label, file=sys.stderr)
    return lambda line: print(line, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Measure and print the RESULT line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50_000, 200_000],
                        help="catalog sizes for the dense index's memory")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds over the queries")
    parser.add_argument("--processes", type=int, help="pool processes (default: max(2, cores))")
    parser.add_argument("--products", type=int, help="embed only this many for throughput")
    args = parser.parse_args(argv)

    from catalog.ingest import ingest_file, validate
    from catalog.product import Product
    from catalog.readers import read_jsonl
    from catalog.samples import SAMPLE_CATALOG
    from catalog.text import embed_text
    from search.embedding.backfill import embed_pending
    from search.evaluation.judgments import read_queries
    from search.pipeline.service import make_service
    from search.recall.factory import make_recall
    from search.settings import Settings
    from workers.embedding.factory import make_embedder
    from workers.embedding.pool import EmbeddingPool
    from workers.threads import available_cores

    print(f"{hardware()}; Python {platform.python_version()}")
    fields: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="shelf-bench-hybrid-") as tmp:
        settings = Settings(data_dir=Path(tmp), score_cache="off", recall_mode="hybrid")
        products = [p for p in validate(read_jsonl(SAMPLE_CATALOG)) if isinstance(p, Product)]
        texts = [embed_text(p, settings.embed_text_max_chars) for p in products]
        texts = texts[: args.products] if args.products else texts
        queries = [q.text for name in QUERY_FILES for q in read_queries(DATA / name)]
        cores = available_cores()
        processes = args.processes or max(2, cores)

        show = _step("[1/4] embedding throughput")
        started = time.perf_counter()
        embedder = make_embedder(settings)
        assert embedder is not None, "SHELF_EMBED_MODEL=none: nothing to benchmark"
        embedder.warm_up()
        load_s = time.perf_counter() - started
        single, single_cpu = throughput(embedder, texts, settings.embed_batch_size)
        started = time.perf_counter()
        pool = EmbeddingPool(embedder, settings, processes)
        pool.warm_up()
        pool_start_s = time.perf_counter() - started
        pooled, _ = throughput(pool, texts, settings.embed_batch_size * processes)
        pool.close()
        fields.update(embed_products_per_s=single, embed_products_per_cpu_s=single_cpu,
                      embed_pool_products_per_s=pooled, pool_processes=processes,
                      pool_speedup=pooled / single)  # fmt: skip
        show(f"model {embedder.model_id} ({embedder.dim}-d), loaded in {load_s:.1f}s; "
             f"{len(texts)} products, {cores} core(s) available to this process")  # fmt: skip
        show(f"  1 process, 1 thread: {single:,.1f} products/s ({single_cpu:,.1f} per CPU-s)")
        show(f"  pool of {processes} processes: {pooled:,.1f} products/s (started in "
             f"{pool_start_s:.1f}s, not counted); speedup {pooled / single:.2f}x")  # fmt: skip

        show = _step("[2/4] query embedding")
        p50, p99 = _ms(query_latencies(embedder, queries, max(args.rounds, 1)))
        fields.update(query_embed_p50_ms=p50, query_embed_p99_ms=p99)
        show(f"  {len(queries)} queries x {max(args.rounds, 1)}, one per call: "
             f"p50 {p50:.2f} ms, p99 {p99:.2f} ms")  # fmt: skip

        show = _step("[3/4] search latency, sample index")
        recall = make_recall(settings)
        ingest_file(SAMPLE_CATALOG, recall)
        report = embed_pending(recall, embedder, batch_size=settings.embed_batch_size)
        fields["embed_pass_products_per_s"] = report.rate
        show(f"  {recall.count()} products indexed; embedding pass: {report.embedded} vectors, "
             f"{report.rate:,.1f} products/s, {report.pending} pending")  # fmt: skip
        cold = make_service(settings, rerank=False, recall=recall, embedder=embedder)
        cached = make_service(settings.model_copy(update={"score_cache": "memory"}),
                               rerank=False, recall=recall, embedder=embedder)  # fmt: skip
        timings = search_latencies(
            {"bm25": (cold, "bm25"), "hybrid": (cold, "hybrid"),
             "hybrid_cached": (cached, "hybrid")},
            queries, args.rounds,
        )  # fmt: skip
        recall.close()
        bm25, hybrid, warm = (_ms(timings[name]) for name in ("bm25", "hybrid", "hybrid_cached"))
        fields.update(bm25_p50_ms=bm25[0], bm25_p99_ms=bm25[1], hybrid_p50_ms=hybrid[0],
                      hybrid_p99_ms=hybrid[1], hybrid_added_p50_ms=hybrid[0] - bm25[0],
                      hybrid_added_p99_ms=hybrid[1] - bm25[1],
                      hybrid_over_bm25_p50=hybrid[0] / bm25[0],
                      hybrid_cached_p50_ms=warm[0], hybrid_cached_p99_ms=warm[1])  # fmt: skip
        show(f"  {len(queries)} queries x {args.rounds} rounds, k=10, no rerank, warm:")
        show(f"  bm25:                         p50 {bm25[0]:6.2f} ms  p99 {bm25[1]:6.2f} ms")
        show(
            f"  hybrid, query vector computed: p50 {hybrid[0]:6.2f} ms  p99 {hybrid[1]:6.2f} ms"
            f"  (+{hybrid[0] - bm25[0]:.2f} ms p50, {hybrid[0] / bm25[0]:.2f}x bm25)"
        )
        show(f"  hybrid, query vector cached:   p50 {warm[0]:6.2f} ms  p99 {warm[1]:6.2f} ms")
        show(f"  hybrid p50 < 100 ms: {'yes' if hybrid[0] < 100 else 'NO'}")

    show = _step("[4/4] dense index memory")
    for size in args.sizes:
        result = dense_memory(size, embedder.dim)
        fields[f"mem_{_size_key(size)}_mb"] = result["added_mb"]
        show(f"  {size:>9,} products x {embedder.dim}-d: +{result['added_mb']:.0f} MB RSS, "
             f"load {result['load_s']:.2f}s, top-50 p50 {result['p50_ms']:.1f} ms")  # fmt: skip
    if len(args.sizes) > 1:
        first, last = args.sizes[0], args.sizes[-1]
        ratio = fields[f"mem_{_size_key(last)}_mb"] / max(fields[f"mem_{_size_key(first)}_mb"], 1)
        show(f"  memory ratio {_size_key(last)}/{_size_key(first)}: {ratio:.2f}")
    embedder.close()
    print("RESULT " + " ".join(
        f"{k}={v:.0f}" if k == "pool_processes" else f"{k}={v:.4g}" for k, v in fields.items()
    ))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
