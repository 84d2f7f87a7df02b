"""The benchmarks run end to end on the tiny model and end with their RESULT line.

Their numbers mean nothing here (tiny model, small sizes); this only keeps them runnable.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow
def test_rerank_throughput_benchmark_prints_hardware_and_its_result_line(
    test_model_dir: Path,
) -> None:
    out = _run(
        "bench.rerank_throughput",
        f"--model-dir={test_model_dir}",
        "--pairs=8",
        "--requests=2",
        "--request-pairs=4",
        "--rounds=1",
    )
    assert out.startswith("CPU: ")
    last = out.strip().splitlines()[-1]
    assert re.fullmatch(
        r"RESULT shelf_vs_plain=[\d.]+ int8_vs_fp32=(?:[\d.]+|na) "
        r"dynamic_vs_sequential=[\d.]+",
        last,
    ), last


@pytest.mark.slow
def test_cache_hit_benchmark_prints_its_result_line(redis_url: str) -> None:
    out = _run("bench.cache_hit", f"--redis-url={redis_url}", "--iterations=20", "--candidates=10")
    assert re.fullmatch(r"RESULT p50_ms=[\d.]+ p99_ms=[\d.]+", out.strip().splitlines()[-1])


@pytest.mark.slow
def test_events_benchmark_stores_every_event_it_sent_and_prints_its_result_line() -> None:
    out = _run("bench.events", "--seconds=0.5", "--clients=2", "--batch=50", "--searches=10")
    assert out.startswith("CPU: ")
    last = out.strip().splitlines()[-1]
    found = re.fullmatch(r"RESULT events_per_s=\d+ sent=(\d+) stored=(\d+)", last)
    assert found and found.group(1) == found.group(2) != "0", last


HYBRID_KEYS = (
    "embed_products_per_s", "embed_pool_products_per_s", "pool_speedup", "query_embed_p50_ms",
    "query_embed_p99_ms", "bm25_p50_ms", "hybrid_p50_ms", "hybrid_added_p50_ms",
    "hybrid_cached_p50_ms", "mem_2k_mb",
)  # fmt: skip


@pytest.mark.slow
def test_hybrid_benchmark_prints_hardware_and_its_result_line_with_every_key() -> None:
    started = time.monotonic()
    out = _run("bench.hybrid", "--sizes", "2000", "--rounds", "1", "--products", "64")
    assert time.monotonic() - started < 60
    assert out.startswith("CPU: ")
    last = out.strip().splitlines()[-1]
    assert last.startswith("RESULT "), last
    fields = dict(pair.split("=", 1) for pair in last.removeprefix("RESULT ").split())
    assert set(HYBRID_KEYS) <= set(fields), last
    assert all(re.fullmatch(r"-?[\d.]+(?:e[+-]?\d+)?", value) for value in fields.values()), last


@pytest.mark.slow
def test_ingest_benchmark_prints_bm25_and_embedding_rates_in_its_result_line() -> None:
    out = _run("bench.ingest", "--small=200", "--large=400", "--embed=16")
    assert out.startswith("CPU: ")
    last = out.strip().splitlines()[-1]
    assert re.fullmatch(
        r"RESULT products_per_s=\d+ products_per_cpu_s=\d+ vector_store_share=[\d.]+ "
        r"peak_mb_50k=\d+ peak_mb_200k=\d+ embed_products_per_s=[\d.]+",
        last,
    ), last


@pytest.mark.slow
def test_celery_wait_benchmark_prints_its_result_line(redis_url: str) -> None:
    out = _run(
        "bench.celery_wait",
        f"--redis-url={redis_url}",
        "--deadline-ms=300",
        "--rounds=1",
        "--searches=2",
        "--hang-cap-s=5",
    )
    assert out.startswith("CPU: ")
    last = out.strip().splitlines()[-1]
    found = re.fullmatch(
        r"RESULT overshoot_ms=(-?\d+) cpu_core_pct=[\d.]+ hung_redis_s=([\d.]+)", last
    )
    assert found, last
    assert int(found.group(1)) <= 500 and float(found.group(2)) <= 0.8, last


def test_facets_benchmark_prints_both_searches_and_the_ratio_in_its_result_line() -> None:
    out = _run("bench.facets", "--size", "3000", "--rounds", "1")
    assert out.startswith("CPU: ")
    last = out.strip().splitlines()[-1]
    assert re.fullmatch(
        r"RESULT size=3000 plain_p50_ms=[\d.]+ plain_p99_ms=[\d.]+ faceted_p50_ms=[\d.]+ "
        r"faceted_p99_ms=[\d.]+ recall_p50_ms=[\d.]+ facets_p50_ms=[\d.]+ "
        r"facets_over_recall=[\d.]+ facets_over_recall_brand=[\d.]+ deep_page_p50_ms=[\d.]+ "
        r"price_asc_p50_ms=[\d.]+",
        last,
    ), last


@pytest.mark.slow
def test_suggest_benchmark_prints_hardware_and_its_result_line() -> None:
    out = _run("bench.suggest", "--products=500", "--queries=200", "--lookups=200", "--pace-ms=0.1")
    assert out.startswith("CPU: ")
    last = out.strip().splitlines()[-1]
    assert re.fullmatch(
        r"RESULT products=1140 queries=200 completions=\d+ build_s=[\d.]+ p50_ms=[\d.]+ "
        r"p99_ms=[\d.]+ back_to_back_p99_ms=[\d.]+ pass=(?:true|false)",
        last,
    ), last


@pytest.mark.slow
def test_search_warm_benchmark_prints_each_rate_in_its_result_line() -> None:
    out = _run("bench.search_warm", "--rates", "4", "8", "--duration=0.5", "--queries=8",
               "--pause=0", "--recall=bm25")  # fmt: skip
    assert out.startswith("CPU: ")
    last = out.strip().splitlines()[-1]
    assert re.fullmatch(
        r"RESULT rate_4_p50_ms=[\d.]+ rate_4_p99_ms=[\d.]+ rate_4_shed=0 rate_4_cpu_ms=[\d.]+ "
        r"rate_8_p50_ms=[\d.]+ rate_8_p99_ms=[\d.]+ rate_8_shed=0 rate_8_cpu_ms=[\d.]+ "
        r"pass=false",
        last,
    ), last


LOOP_KEYS = (
    "ndcg_before", "ndcg_after", "ndcg_gain", "ndcg_p", "train_ndcg_before", "train_ndcg_after",
    "ctr_control", "ctr_trained", "ctr_lift", "ctr_p", "log_searches", "judged_queries",
    "ab_searches", "seconds",
)  # fmt: skip


@pytest.mark.slow
def test_learning_loop_benchmark_prints_hardware_and_its_result_line_with_every_key() -> None:
    """Tiny traffic (a few hundred searches, 24 queries per set): the loop runs end to end
    through the real API and event store; its numbers mean nothing at this size."""
    out = _run(
        "bench.learning_loop", "--log-users", "150", "--ab-users", "40",
        "--min-impressions", "3", "--queries-per-set", "24",
    )  # fmt: skip
    assert out.startswith("CPU: ")
    last = out.strip().splitlines()[-1]
    assert last.startswith("RESULT "), last
    fields = dict(pair.split("=", 1) for pair in last.removeprefix("RESULT ").split())
    assert set(LOOP_KEYS) == set(fields), last
    assert all(re.fullmatch(r"-?[\d.]+(?:e[+-]?\d+)?|nan", value) for value in fields.values())
    assert int(fields["log_searches"]) > 0 and int(fields["judged_queries"]) >= 10


@pytest.mark.slow
def test_query_budget_benchmark_prints_hardware_and_its_result_line() -> None:
    out = _run("bench.query_budget", "--canaries=8", "--bomb-clients=1")
    assert out.startswith("CPU: ")
    last = out.strip().splitlines()[-1]
    assert re.fullmatch(
        r"RESULT canary_p99_ratio=[\d.]+ quiet_p99_ms=[\d.]+ loaded_p99_ms=[\d.]+ "
        r"bomb_p50_ms=[\d.]+ bomb_terms=\d+",
        last,
    ), last
