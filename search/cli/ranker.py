"""``shelf ranker train``: a learned ranker from judged queries, trained through the one search
path (``search.learning.train``), saved with its model card."""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path
from typing import Any

from search.cli.common import add_command, emit
from search.cli.parsers import add_recall_option
from search.cli.ranker_events import add_from_events_arguments, train_from_events_command
from search.errors import EvaluationInputError
from search.settings import Settings


def add_ranker_commands(ranker: argparse.ArgumentParser) -> None:
    """The subcommands of ``shelf ranker``."""
    commands = ranker.add_subparsers(dest="ranker_command", required=True)
    command = partial(add_command, commands)
    train = command(
        "train",
        cmd_train,
        "Train a learned ranker (LightGBM LambdaMART) on judged queries; print its model card.",
    )
    judged = train.add_argument_group("judged queries (the formats shelf eval reads)")
    judged.add_argument(
        "--catalog",
        type=Path,
        help="index this catalog in a temporary index (default: the configured index)",
    )
    judged.add_argument("--queries", type=Path, help="queries: TSV (qid<TAB>text) or JSONL")
    judged.add_argument("--judgments", type=Path, help="TREC qrels or JSONL (grades 0-3 or ESCI)")
    add_from_events_arguments(train)  # or the shop's own clicks as judgments
    train.add_argument("--out", type=Path, required=True, help="the ranker directory to write")
    train.add_argument(
        "--holdout",
        type=float,
        default=0.25,
        help="share of the queries (per language) held out for the model card (0.25)",
    )
    train.add_argument("--seed", type=int, default=0, help="seed of the held-out split (0)")
    add_recall_option(train)
    train.add_argument(
        "--rerank",
        action="store_true",
        help="compute the cross-encoder's score as a feature (slow on a CPU)",
    )


def cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    """Collect features through the search path (judged queries, or with ``--from-events`` the
    event log's click judgments), train, save and print the model card."""
    from search.evaluation.judgments import read_judgments, read_queries
    from search.evaluation.run import EVAL_DEADLINE_MS, catalog_index
    from search.learning.train import collect_training_data, train_ranker
    from search.pipeline.service import make_service

    if args.from_events:
        card = train_from_events_command(args, settings)
        emit(args, {"out": str(args.out), **card}, format_card(card, args.out))
        return 0
    if args.queries is None or args.judgments is None:
        raise EvaluationInputError(
            "give --queries and --judgments (the files shelf eval reads), or --from-events"
        )
    queries = read_queries(args.queries)
    qrels = read_judgments(args.judgments)
    recall = args.recall or (
        "bm25" if settings.embed_model.lower() == "none" else settings.recall_mode
    )
    configured = settings.model_copy(
        update={"recall_mode": recall, "ranker": "none", "rerank_deadline_ms": EVAL_DEADLINE_MS}
    )
    with catalog_index(args.catalog, configured, embed=recall != "bm25") as (index, _):
        service = make_service(configured, rerank=args.rerank, recall=index)
        try:
            data = collect_training_data(
                service, queries, qrels, progress=not args.json and sys.stderr.isatty(),
                rerank=args.rerank, recall=recall, source=str(args.queries),
            )  # fmt: skip
        finally:  # the index is closed by catalog_index
            if service.reranker is not None:
                service.reranker.close()
            if service.embedder is not None:
                service.embedder.close()
    trained = train_ranker(data, holdout_fraction=args.holdout, seed=args.seed)
    trained.save(args.out)
    emit(args, {"out": str(args.out), **trained.card}, format_card(trained.card, args.out))
    return 0


def format_card(card: dict[str, Any], out: Path) -> str:
    """The model card for people."""
    data = card["data"]
    lines = [
        f"ranker written to {out}",
        f"trained on {data['queries']} queries, {data['pairs']} candidates "
        f"({data['judged_pairs']} judged; grades {data['grades']}); languages "
        f"{data['languages']}; {card['training']['rounds']} boosting rounds",
    ]
    heldout = card.get("heldout")
    if heldout:
        lines.append(
            f"held out {heldout['queries']} queries: {heldout['metric']} ranker "
            f"{heldout['ranker']:.3f}, fused {heldout['fused']:.3f} (p={heldout['p_fused']:.4f}), "
            f"bm25 {heldout['bm25']:.3f} (p={heldout['p_bm25']:.4f})"
        )
        for language, row in heldout["languages"].items():
            lines.append(
                f"  {language:<8} {row['queries']:>4} queries  ranker {row['ranker']:.3f}  "
                f"fused {row['fused']:.3f} (p={row['p_fused']:.4f})  bm25 {row['bm25']:.3f}"
            )
        lines.append(f"  test: {heldout['test']}")
    else:
        lines.append("no query held out (--holdout 0): no held-out measurement")
    return "\n".join(lines)
