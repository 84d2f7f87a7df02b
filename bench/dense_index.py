"""The embedded dense leg at catalog scale: load time, memory, and search latency of the FAISS
index over ``vectors.db``, at two sizes, with synthetic unit vectors of the bundled model's size.

Each size runs in a child process that fills a fresh vector store (rows and vectors written
straight through ``VectorStore``), loads the dense index, and reports the RSS it added, the
p50/p99 of an unfiltered and of a selective (1%) filtered top-50 search, and what one
incremental refresh after a 32-vector batch costs. ``--dim`` sets the vector size (default 384;
``bench/hybrid.py`` runs the children with the default model's 512).
Run: ``.venv/bin/python bench/dense_index.py``.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DIM = 384


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(size: int, workdir: Path, dim: int = DIM) -> dict[str, float]:
    """Fill, load, search with ``dim``-dimensional vectors; return the measurements (RSS added
    by loading the dense index in MB, latencies in ms)."""
    import numpy as np

    from search.recall import SearchFilters, StoredVector
    from search.recall.embedded.dense import DenseIndex
    from search.recall.embedded.vectors import ProductRow, VectorStore

    rng = np.random.default_rng(0)
    store = VectorStore(workdir / "vectors.db")
    for start in range(0, size, 10_000):
        ids = range(start, min(start + 10_000, size))
        rows = [
            ProductRow(f"p{i:07d}", f"h{i}", f"text {i}", "en", "en-US",
                       f"Cat{i % 20} > Sub{i % 100}", f"brand{i % 100}", float(i % 500),
                       i % 3 != 0)
            for i in ids
        ]  # fmt: skip
        store.upsert(rows)
        vectors = rng.standard_normal((len(rows), dim)).astype(np.float32)
        store.put(
            "bench",
            [StoredVector(r.id, r.text_hash, v) for r, v in zip(rows, vectors, strict=True)],
        )
    before = _rss_mb()
    index = DenseIndex(store)
    started = time.perf_counter()
    query = rng.standard_normal(dim).astype(np.float32)
    index.search(query, 50, None)
    load_s = time.perf_counter() - started
    added_mb = _rss_mb() - before

    def latency(filters: SearchFilters | None) -> tuple[float, float]:
        times = []
        for _ in range(50):
            q = rng.standard_normal(dim).astype(np.float32)
            t0 = time.perf_counter()
            hits = index.search(q, 50, filters)
            times.append((time.perf_counter() - t0) * 1000)
            # A small catalog has fewer than 50 products under the selective filter.
            assert hits and (filters is not None or len(hits) == 50)
        return float(np.percentile(times, 50)), float(np.percentile(times, 99))

    p50, p99 = latency(None)
    fp50, fp99 = latency(SearchFilters(brand="brand7", in_stock=True))  # ~0.67% of products
    rows = [ProductRow(f"n{i}", f"nh{i}", "new", "en", "en-US", "Cat1", "b", 1.0, True)
            for i in range(32)]  # fmt: skip
    store.upsert(rows)
    store.put("bench", [StoredVector(r.id, r.text_hash, rng.standard_normal(dim)) for r in rows])
    t0 = time.perf_counter()
    index.search(query, 50, None)
    refresh_ms = (time.perf_counter() - t0) * 1000
    return {"size": size, "load_s": load_s, "added_mb": added_mb, "p50_ms": p50, "p99_ms": p99,
            "filtered_p50_ms": fp50, "filtered_p99_ms": fp99,
            "refresh_plus_search_ms": refresh_ms}  # fmt: skip


def main() -> None:
    """Run both sizes in child processes and print the RESULT line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs=2, default=[50_000, 200_000])
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--dim", type=int, default=DIM, help="vector dimension")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.workdir, args.dim)))
        return
    from bench.common import hardware

    print(f"{hardware()}; Python {platform.python_version()}")
    results = []
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as workdir:
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(size), "--workdir", workdir,
                 "--dim", str(args.dim)],
                check=True, capture_output=True, text=True,
            )  # fmt: skip
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(" ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}"
                       for k, v in results[-1].items()), flush=True)  # fmt: skip
    small, large = results
    print(
        f"RESULT p50_ms_{small['size']}={small['p50_ms']:.1f} p50_ms_{large['size']}="
        f"{large['p50_ms']:.1f} mb_{small['size']}={small['added_mb']:.0f} "
        f"mb_{large['size']}={large['added_mb']:.0f} "
        f"mb_ratio={large['added_mb'] / max(small['added_mb'], 1):.2f}"
    )


if __name__ == "__main__":
    main()
