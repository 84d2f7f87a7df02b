"""`shelf eval`: judged queries through the search service, metrics per language, TREC run files."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from search.cli.parsers import add_recall_option, number_list
from search.settings import Settings


def add_eval_arguments(evaluate: argparse.ArgumentParser) -> None:
    """The options of ``shelf eval``."""
    evaluate.add_argument(
        "--catalog",
        type=Path,
        help="index this catalog in a temporary index (default: the configured index)",
    )
    evaluate.add_argument(
        "--queries", type=Path, required=True, help="queries: TSV (qid<TAB>text) or JSONL"
    )
    evaluate.add_argument(
        "--judgments", type=Path, required=True, help="TREC qrels or JSONL (grades 0-3 or ESCI)"
    )
    evaluate.add_argument("--k", type=int, default=10, help="cutoff of the final ranking (10)")
    evaluate.add_argument(
        "--recall-k", type=_recall_ks, help="recall sizes to evaluate, e.g. 50,100 (SHELF_RECALL_K)"
    )
    evaluate.add_argument("--no-rerank", action="store_true", help="recall order only")
    add_recall_option(evaluate)
    evaluate.add_argument(
        "--ranker",
        metavar="default|none|DIR",
        help="the learned ranker that orders the candidates (default: SHELF_RANKER)",
    )
    evaluate.add_argument("--run-out", type=Path, help="write the ranking in TREC run format")
    evaluate.add_argument(
        "--compare",
        nargs=2,
        metavar=("A", "B"),
        help="two configurations side by side, each "
        "'recall=bm25|dense|hybrid,rerank=on|off,recall_k=N,ranker=default|none|DIR' or "
        "'run=FILE'",
    )


def _recall_ks(value: str) -> list[int]:
    ks = number_list(value, int) or []
    from search.pipeline.request import MAX_K

    if not ks or not all(1 <= k <= MAX_K for k in ks):
        raise argparse.ArgumentTypeError(
            f"expected K values 1-{MAX_K} joined by commas, got {value!r}"
        )
    return ks


def _run_out_path(path: Path, tag: str, several: bool) -> Path:
    """``run.trec`` for one configuration, ``run.shelf-bm25-k50.trec`` for each of several."""
    return path.with_name(f"{path.stem}.{tag}{path.suffix}") if several else path


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    """Run judged queries and report nDCG, MRR, precision and recall, overall and per language."""
    import time
    from dataclasses import replace

    from tqdm import tqdm

    from search.evaluation import report
    from search.evaluation.compare import compare_runs
    from search.evaluation.judgments import read_judgments, read_queries
    from search.evaluation.run import EvalConfig, evaluate_configs, parse_config
    from search.evaluation.trec import write_run

    started = time.perf_counter()
    queries = read_queries(args.queries)
    qrels = read_judgments(args.judgments)
    recall_ks = args.recall_k or [settings.recall_k]
    recall = args.recall or (
        "bm25" if settings.embed_model.lower() == "none" else settings.recall_mode
    )
    default = EvalConfig(
        rerank=not args.no_rerank, recall_k=recall_ks[0], recall=recall, ranker=args.ranker
    )
    if args.compare:
        configs = [parse_config(spec, default) for spec in args.compare]
    else:
        configs = [replace(default, recall_k=k) for k in recall_ks]
    searched = [c for c in configs if c.run_file is None]
    with tqdm(
        total=len(queries) * len(searched),
        desc="eval",
        unit="query",
        file=sys.stderr,
        disable=args.json or not sys.stderr.isatty(),
    ) as bar:
        results, rejected = evaluate_configs(
            configs, queries, qrels, k=args.k, catalog=args.catalog, settings=settings,
            on_query=bar.update,
        )  # fmt: skip
    run_files: list[str] = []
    if args.run_out:
        for ranked, _ in results:
            if ranked.config.run_file is None:
                path = _run_out_path(args.run_out, ranked.config.tag, len(searched) > 1)
                write_run(ranked.run, path, ranked.config.tag)
                run_files.append(str(path))
    comparisons = compare_runs(results[0][1], results[1][1]) if args.compare else None
    seconds = time.perf_counter() - started

    if args.json:
        data: dict[str, object] = {
            "catalog": str(args.catalog) if args.catalog else None,
            "catalog_rejected": rejected,
            "configs": [report.evaluation_data(r, e, args.k) for r, e in results],
            "comparison": None,
            "run_files": run_files,
            "seconds": round(seconds, 3),
        }
        if comparisons is not None:
            labels = results[0][0].config.label, results[1][0].config.label
            data["comparison"] = report.comparison_data(*labels, comparisons)
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    if rejected:
        print(f"  {rejected} catalog line(s) rejected; see `shelf ingest`", file=sys.stderr)
    for ranked, evaluation in results:
        print(report.evaluation_table(ranked.config.label, evaluation, args.k))
        for note in report.notes(ranked, evaluation):
            print(f"  note: {note}")
        print()
    if comparisons is not None:
        labels = results[0][0].config.label, results[1][0].config.label
        print(report.comparison_table(*labels, comparisons) + "\n")
    for run_file in run_files:
        print(f"run written to {run_file} (TREC run format)")
    print(f"evaluated {len(queries)} queries x {len(configs)} configuration(s) in {seconds:.1f}s")
    return 0
