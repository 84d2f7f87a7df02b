"""Rebuild the default ranker that ships in ``search/ranking/default/`` (``make ranker``), and
measure it through the search path.

It is trained only on data Shelf ships: the sample catalog and its judged queries
(``catalog/data``: same-language, cross-language and misspelled queries). Half of each set's
queries, per language, are held out (``HOLDOUT_FRACTION``, seed ``SEED``, by
``sha256(seed:query_id)``; a misspelled query goes with its correctly spelled twin), and the
hyper-parameters are LightGBM's small-data defaults of ``search.learning.train``, never tuned on
them. ``--report`` prints nDCG@10 with the paired test of ``ranker=none`` against the ranker,
per set and language, on the held-out queries and on every query, the way ``shelf eval`` ranks
them (``search.evaluation.run.rank_queries``).

    python -m search.learning.build_default            # train, save, report
    python -m search.learning.build_default --report-only
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from catalog.samples import DATA_DIR, SAMPLE_CATALOG
from search.evaluation.compare import compare_metric
from search.evaluation.judgments import EvalQuery, read_judgments, read_queries
from search.evaluation.run import EvalConfig, catalog_index, rank_queries, score
from search.learning.train import METRIC_K, TrainedRanker, collect_training_data, train_ranker
from search.pipeline.service import SearchService, make_service
from search.ranking.model import DEFAULT_DIR, load_ranker
from search.settings import Settings, get_settings

HOLDOUT_FRACTION = 0.5
SEED = 0
TYPO = "#typo"  # a misspelled query's id: its twin's id and this suffix
# (set name, queries file, judgments file): the sample sets, in the order they are collected.
SETS: tuple[tuple[str, str, str], ...] = (
    ("same-language", "sample_queries.jsonl", "sample_judgments.jsonl"),
    ("cross-language", "sample_queries_xling.jsonl", "sample_judgments_xling.jsonl"),
    ("misspelled", "sample_queries_typo.jsonl", "sample_judgments.jsonl"),
)


def sample_set(name: str, queries_file: str, judgments_file: str) -> tuple[list[EvalQuery], Any]:
    """One sample set's queries and judgments; a misspelled query's id gets ``TYPO``."""
    queries = read_queries(DATA_DIR / queries_file)
    qrels = read_judgments(DATA_DIR / judgments_file)
    if name == "misspelled":
        queries = [dataclasses.replace(q, query_id=q.query_id + TYPO) for q in queries]
        qrels = {qid + TYPO: grades for qid, grades in qrels.items()}
    return queries, qrels


def build_settings() -> Settings:
    """The settings the default is trained and measured with: hybrid recall, no reranker."""
    return get_settings().model_copy(update={"recall_mode": "hybrid", "ranker": "none"})


def collect(service: SearchService, progress: bool) -> Any:
    """The training data of every sample set, through ``service``."""
    data = None
    for name, queries_file, judgments_file in SETS:
        queries, qrels = sample_set(name, queries_file, judgments_file)
        part = collect_training_data(
            service, queries, qrels, progress=progress,
            family=lambda qid: qid.removesuffix(TYPO), source=f"catalog/data/{queries_file}",
        )  # fmt: skip
        data = part if data is None else data.merged(part)
    return data


def report(service: SearchService, ranker_spec: str, heldout: set[str]) -> list[dict[str, Any]]:
    """nDCG@10 of ``ranker=none`` and of the ranker, with the paired test, per set and
    language, on the held-out queries and on all of them."""
    rows: list[dict[str, Any]] = []
    ranker = load_ranker(ranker_spec)
    for name, queries_file, judgments_file in SETS:
        queries, qrels = sample_set(name, queries_file, judgments_file)
        config = EvalConfig(rerank=False, recall_k=service.config.recall_k, recall="hybrid")
        none = score(rank_queries(service.with_config(ranker=None), queries, config), qrels, 10)
        ranked = score(rank_queries(service.with_config(ranker=ranker), queries, config), qrels, 10)
        for subset in ("held-out", "all"):
            keep = (
                {q.query_id for q in queries if q.query_id.removesuffix(TYPO) in heldout}
                if subset == "held-out"
                else {q.query_id for q in queries}
            )
            languages = sorted({q.language for q in none.queries if q.query_id in keep})
            for language in ["all", *languages]:
                a = _only(none, keep, language)
                b = _only(ranked, keep, language)
                comparison = compare_metric(a, b, f"nDCG@{METRIC_K}")
                rows.append(
                    {
                        "set": name,
                        "queries": subset,
                        "language": language,
                        "n": len(comparison.deltas),
                        "none": round(comparison.mean_a, 3),
                        "ranker": round(comparison.mean_b, 3),
                        "delta": round(comparison.delta, 3),
                        "p": round(comparison.p_value, 4),
                    }  # fmt: skip
                )
    return rows


def _only(evaluation: Any, keep: set[str], language: str) -> Any:
    queries = [
        q
        for q in evaluation.queries
        if q.query_id in keep and (language == "all" or q.language == language)
    ]
    return dataclasses.replace(evaluation, queries=queries)


def format_report(rows: Sequence[Mapping[str, Any]]) -> str:
    """The report as a Markdown table."""
    lines = [
        "| set | queries | language | n | ranker=none | ranker=default | delta | p |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['set']} | {r['queries']} | {r['language']} | {r['n']} | {r['none']:.3f} | "
            f"{r['ranker']:.3f} | {r['delta']:+.3f} | {r['p']:.4f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Train and save the default ranker (unless ``--report-only``), then report on it."""
    parser = argparse.ArgumentParser(prog="python -m search.learning.build_default")
    parser.add_argument("--out", type=Path, default=DEFAULT_DIR, help="ranker directory")
    parser.add_argument("--report-only", action="store_true", help="measure the saved ranker")
    parser.add_argument("--no-report", action="store_true", help="train and save only")
    parser.add_argument("--json", action="store_true", help="the report as JSON")
    args = parser.parse_args(argv)
    settings = build_settings()
    with catalog_index(SAMPLE_CATALOG, settings, embed=True) as (recall, _):
        service = make_service(settings, rerank=False, recall=recall)
        try:
            if not args.report_only:
                trained: TrainedRanker = train_ranker(
                    collect(service, progress=sys.stderr.isatty()),
                    holdout_fraction=HOLDOUT_FRACTION, seed=SEED,
                )  # fmt: skip
                trained.card["sources"] = [f"catalog/data/{q}" for _, q, _ in SETS]
                trained.save(args.out)
                print(f"saved {args.out}", file=sys.stderr)
            if args.no_report:
                return 0
            card = json.loads((args.out / "ranker.json").read_text(encoding="utf-8"))["card"]
            heldout = {qid.removesuffix(TYPO) for qid in card["split"]["heldout"]}
            rows = report(service, str(args.out), heldout)
        finally:
            if service.embedder is not None:
                service.embedder.close()
    print(json.dumps(rows, indent=2) if args.json else format_report(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
