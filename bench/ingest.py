"""Bulk ingestion into the embedded index: products/second, and peak memory at two sizes.

Generates a synthetic multilingual catalog (JSON Lines), ingests it into a fresh tantivy index
in a child process per size, and reports each child's peak RSS, so memory growth with catalog
size shows as the difference between the two. Run: ``.venv/bin/python bench/ingest.py``.
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
from pathlib import Path

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


def child(catalog: Path, index_dir: Path, show_progress: bool) -> None:
    """Ingest ``catalog`` into a new index; print one JSON line with the rate and peak memory."""
    from catalog.ingest import IngestReport, ingest_file
    from search.recall.embedded import EmbeddedRecall

    def progress(report: IngestReport) -> None:
        rate = report.read / report.seconds if report.seconds else 0.0
        print(f"\r  {report.read:>9,} products  {rate:>8,.0f}/s", end="", file=sys.stderr)

    recall = EmbeddedRecall(index_dir)
    report = ingest_file(catalog, recall, progress=progress if show_progress else None)
    recall.close()
    print(file=sys.stderr)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rate = report.stored / report.seconds
    print(json.dumps({"stored": report.stored, "products_per_s": rate, "peak_mb": peak_mb}))


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
    parser.add_argument("--child", nargs=2, type=Path, metavar=("CATALOG", "INDEX"))
    args = parser.parse_args()
    if args.child:
        child(*args.child, show_progress=True)
        return
    from bench.common import hardware

    print(f"{hardware()}; Python {platform.python_version()}")
    with tempfile.TemporaryDirectory(prefix="shelf-bench-") as tmp:
        small = run_size(args.small, Path(tmp))
        large = run_size(args.large, Path(tmp))
    for size, result in ((args.small, small), (args.large, large)):
        print(
            f"{size:>9,} products: {result['products_per_s']:>8,.0f} products/s, "
            f"peak {result['peak_mb']:.0f} MB"
        )
    print(f"peak memory ratio large/small: {large['peak_mb'] / small['peak_mb']:.2f}")
    print(
        f"RESULT products_per_s={large['products_per_s']:.0f} "
        f"peak_mb_50k={small['peak_mb']:.0f} peak_mb_200k={large['peak_mb']:.0f}"
    )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
