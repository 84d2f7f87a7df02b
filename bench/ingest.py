"""Bulk ingestion into the embedded index: products/second, and peak memory at two sizes.

Generates a synthetic multilingual catalog (JSON Lines), ingests it into a fresh tantivy index
in a child process per size, and reports each child's peak RSS, so memory growth with catalog
size shows as the difference between the two. Indexing also writes each product's row to the
dense leg's vector store (``search/recall/embedded/vectors.py``); the time spent there (building
the rows
and writing them) is measured apart and shown as a share, with the rate BM25 indexing alone
would have. Products per CPU-second are printed beside the wall rate (the machine may be shared).

Then the embedding pass (``search.embedding.backfill.embed_pending``, the bundled default model, one
process and thread) over the first ``--embed`` products of the small index: it is slow, so a
subset. Run: ``.venv/bin/python bench/ingest.py``.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

WORDS = {
    "en-US": [
        "steel",
        "bottle",
        "kettle",
        "lamp",
        "desk",
        "chair",
        "coffee",
        "grinder",
        "wireless",
        "headphones",
        "cable",
    ],
    "de-DE": [
        "Kaffeemühle",
        "Wasserkocher",
        "Kopfhörer",
        "Lampe",
        "Stuhl",
        "Flasche",
        "kabellos",
        "Edelstahl",
    ],
    "es-ES": [
        "cafetera",
        "eléctrica",
        "auriculares",
        "lámpara",
        "silla",
        "botella",
        "inalámbrico",
        "acero",
    ],
    "ja-JP": ["電気ケトル", "ワイヤレスイヤホン", "コーヒーミル", "デスクランプ", "水筒"],
    "zh-CN": ["降噪耳机", "电热水壶", "咖啡研磨机", "台灯", "保温杯"],
}


def write_catalog(path: Path, size: int, seed: int = 0) -> None:
    """A JSONL catalog of ``size`` products spread over five locales."""
    rng = random.Random(seed)
    locales = list(WORDS)
    with path.open("w", encoding="utf-8") as out:
        for n in range(size):
            locale = locales[n % len(locales)]
            words = WORDS[locale]
            record = {
                "id": f"p{n}",
                "locale": locale,
                # A model code per product keeps the vocabulary growing, as in real catalogs.
                "title": " ".join(rng.choices(words, k=4)) + f" X{rng.randrange(10**6)}",
                "description": " ".join(rng.choices(words, k=30)),
                "brand": f"Brand{n % 97}",
                "category": f"Home > Kitchen > Shelf {n % 13}",
                "bullets": [" ".join(rng.choices(words, k=5)) for _ in range(3)],
                "price": round(rng.uniform(1, 500), 2),
                "currency": "EUR",
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")


def _timed(function: Callable[..., T], spent: list[float]) -> Callable[..., T]:
    """``function``, adding the seconds each call takes to ``spent[0]``."""

    def timed(*args: Any, **kwargs: Any) -> T:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - started

    return timed


def child(catalog: Path, index_dir: Path, show_progress: bool) -> None:
    """Ingest ``catalog`` into a new index; print one JSON line with the rate, the seconds spent
    on the vector store's rows, and peak memory."""
    import search.recall.embedded.backend as embedded
    from catalog.ingest import IngestReport, ingest_file

    def progress(report: IngestReport) -> None:
        rate = report.read / report.seconds if report.seconds else 0.0
        print(f"\r  {report.read:>9,} products  {rate:>8,.0f}/s", end="", file=sys.stderr)

    # Inside index(): building each product's row (product_row) and writing them (upsert).
    rows_s, upsert_s = [0.0], [0.0]
    embedded.product_row = _timed(embedded.product_row, rows_s)
    recall = embedded.EmbeddedRecall(index_dir)
    store: Any = recall._vectors  # noqa: SLF001 (measured, not changed)
    store.upsert = _timed(store.upsert, upsert_s)
    cpu_started = time.process_time()
    report = ingest_file(catalog, recall, progress=progress if show_progress else None)
    cpu_s = time.process_time() - cpu_started
    recall.close()
    print(file=sys.stderr)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rate = report.stored / report.seconds
    print(json.dumps({"stored": report.stored, "products_per_s": rate, "peak_mb": peak_mb,
                      "seconds": report.seconds, "vector_store_s": rows_s[0] + upsert_s[0],
                      "vector_rows_s": rows_s[0], "vector_upsert_s": upsert_s[0],
                      "products_per_cpu_s": report.stored / cpu_s}))  # fmt: skip


def embed_child(index_dir: Path, limit: int) -> None:
    """The embedding pass over the first ``limit`` products (by id) of the index in
    ``index_dir``, with the bundled default model on one thread; print one JSON line."""
    from search.embedding.backfill import embed_pending
    from search.recall.embedded.backend import EmbeddedRecall
    from search.settings import Settings
    from workers.embedding.factory import make_embedder

    settings = Settings(data_dir=index_dir.parent)
    embedder = make_embedder(settings)
    if embedder is None:
        raise SystemExit("SHELF_EMBED_MODEL=none: no embedding pass to measure")
    embedder.warm_up()
    recall = EmbeddedRecall(index_dir, embed_text_max_chars=settings.embed_text_max_chars)

    class Subset:
        """The recall, with at most ``limit`` products ever pending: the pass stops there."""

        def __getattr__(self, name: str) -> Any:
            return getattr(recall, name)

        def pending_vectors(self, model_id: str, *, limit: int) -> list[Any]:
            left = budget - done[0]
            found = recall.pending_vectors(model_id, limit=min(limit, left)) if left else []
            done[0] += len(found)
            return found

    budget, done = limit, [0]
    report = embed_pending(Subset(), embedder, batch_size=settings.embed_batch_size)  # type: ignore[arg-type]
    recall.close()
    embedder.close()
    print(json.dumps({"model": embedder.model_id, "embedded": report.embedded,
                      "seconds": report.seconds, "products_per_s": report.rate}))  # fmt: skip


def run_size(size: int, workdir: Path) -> dict[str, float]:
    """Generate a catalog of ``size`` products and ingest it in a child process."""
    catalog = workdir / f"catalog-{size}.jsonl"
    started = time.perf_counter()
    write_catalog(catalog, size)
    print(f"{size:,} products generated in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    command = [sys.executable, __file__, "--child", str(catalog), str(workdir / f"index-{size}")]
    out = subprocess.run(command, check=True, capture_output=False, stdout=subprocess.PIPE)
    result: dict[str, float] = json.loads(out.stdout.decode().strip().splitlines()[-1])
    if result["stored"] != size:
        raise SystemExit(f"expected {size} products stored, got {result['stored']}")
    return result


def main() -> None:
    """Run both sizes and print the RESULT line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", type=int, default=50_000)
    parser.add_argument("--large", type=int, default=200_000)
    parser.add_argument("--embed", type=int, default=2_000,
                        help="products the embedding pass embeds (0: skip it)")  # fmt: skip
    parser.add_argument("--child", nargs=2, type=Path, metavar=("CATALOG", "INDEX"))
    parser.add_argument("--embed-child", type=Path, metavar="INDEX", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child, show_progress=True)
        return
    if args.embed_child:
        embed_child(args.embed_child, args.embed)
        return
    from bench.common import hardware

    print(f"{hardware()}; Python {platform.python_version()}")
    with tempfile.TemporaryDirectory(prefix="shelf-bench-") as tmp:
        small = run_size(args.small, Path(tmp))
        large = run_size(args.large, Path(tmp))
        embedding = run_embedding(Path(tmp) / f"index-{args.small}", args.embed)
    for size, result in ((args.small, small), (args.large, large)):
        share = result["vector_store_s"] / result["seconds"]
        bm25_only = result["stored"] / (result["seconds"] - result["vector_store_s"])
        print(
            f"{size:>9,} products: {result['products_per_s']:>8,.0f} products/s "
            f"({result['products_per_cpu_s']:,.0f} per CPU-s), peak {result['peak_mb']:.0f} MB; "
            f"vector store rows {result['vector_store_s']:.1f}s of {result['seconds']:.1f}s "
            f"({share:.0%}: product_row {result['vector_rows_s']:.1f}s, upsert "
            f"{result['vector_upsert_s']:.1f}s), {bm25_only:,.0f} products/s without them"
        )
    print(f"peak memory ratio large/small: {large['peak_mb'] / small['peak_mb']:.2f}")
    print(
        f"BM25 indexing >= 5,000 products/s: {'yes' if large['products_per_s'] >= 5000 else 'NO'}"
    )
    fields = {
        "products_per_s": f"{large['products_per_s']:.0f}",
        "products_per_cpu_s": f"{large['products_per_cpu_s']:.0f}",
        "vector_store_share": f"{large['vector_store_s'] / large['seconds']:.3f}",
        "peak_mb_50k": f"{small['peak_mb']:.0f}",
        "peak_mb_200k": f"{large['peak_mb']:.0f}",
    }
    if embedding:
        print(
            f"embedding pass ({embedding['model']}, 1 process, 1 thread): "
            f"{embedding['embedded']:,} products in {embedding['seconds']:.1f}s, "
            f"{embedding['products_per_s']:,.1f} products/s; BM25 indexing is "
            f"{large['products_per_s'] / embedding['products_per_s']:,.0f}x as fast"
        )
        fields["embed_products_per_s"] = f"{embedding['products_per_s']:.1f}"
    print("RESULT " + " ".join(f"{k}={v}" for k, v in fields.items()))


def run_embedding(index_dir: Path, limit: int) -> dict[str, Any] | None:
    """The embedding pass over ``limit`` products of ``index_dir``, in a child process."""
    if limit <= 0:
        return None
    print(f"embedding pass over {limit:,} products", file=sys.stderr)
    command = [sys.executable, __file__, "--embed-child", str(index_dir), "--embed", str(limit)]
    out = subprocess.run(command, check=True, stdout=subprocess.PIPE)
    result: dict[str, Any] = json.loads(out.stdout.decode().strip().splitlines()[-1])
    return result


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
