"""`shelf embed`, and the embedding pass that `shelf ingest` runs after indexing."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from search.embedding.run import run_embedding
from search.settings import Settings

if TYPE_CHECKING:
    from search.embedding.backfill import EmbedReport

    pass

EMBED_CHOICES = ("now", "later", "celery")


def add_embed_arguments(embed: argparse.ArgumentParser) -> None:
    """The options of ``shelf embed``."""
    embed.add_argument(
        "--rebuild",
        action="store_true",
        help="forget every vector (e.g. after changing SHELF_EMBED_MODEL) and embed all again",
    )
    embed.add_argument(
        "--celery",
        action="store_true",
        help="spread the batches over Celery workers (`shelf worker --queues embed`)",
    )
    embed.add_argument(
        "--processes",
        type=int,
        help="model processes, one thread each (SHELF_EMBED_PROCESSES; default: the cores "
        "this process may use)",
    )
    embed.add_argument("--batch-size", type=int, help="texts per batch (SHELF_EMBED_BATCH_SIZE)")


def add_ingest_embed_argument(ingest: argparse.ArgumentParser) -> None:
    """``shelf ingest --embed now|later|celery``."""
    ingest.add_argument(
        "--embed",
        choices=EMBED_CHOICES,
        default="now",
        help="vectors for the dense leg: 'now' embeds what lacks one after indexing (default; "
        "resumable with `shelf embed`), 'later' leaves it to `shelf embed` or a running "
        "`shelf serve`, 'celery' sends it to the workers. Ignored with SHELF_EMBED_MODEL=none",
    )


def cmd_embed(args: argparse.Namespace, settings: Settings) -> int:
    """Embed every product of the index that lacks a vector from the configured model."""
    from search.cli.common import emit
    from search.recall.factory import make_recall

    settings = _with_overrides(args, settings)
    recall = make_recall(settings)
    try:
        if args.rebuild:
            recall.drop_vectors()
        report = run_embedding(recall, settings, celery=args.celery, quiet=args.json)
    finally:
        recall.close()
    emit(args, report.as_dict(), _summary(report))
    return 0


def embed_after_ingest(args: argparse.Namespace, settings: Settings) -> None:
    """The embedding pass of ``shelf ingest`` (unless ``--embed later``): progress on stderr,
    a summary line on stdout (or in ``--json``'s object under "embedding")."""
    if args.embed == "later" or settings.embed_model.lower() == "none":
        return
    from search.recall.factory import make_recall

    recall = make_recall(settings.model_copy(update={"recall_backend": args.backend})
                         if args.backend else settings)  # fmt: skip
    try:
        report = run_embedding(recall, settings, celery=args.embed == "celery", quiet=args.json)
    finally:
        recall.close()
    if not args.json:
        print(_summary(report))


def _with_overrides(args: argparse.Namespace, settings: Settings) -> Settings:
    update: dict[str, object] = {}
    if args.processes:
        update["embed_processes"] = args.processes
    if args.batch_size:
        update["embed_batch_size"] = args.batch_size
    return settings.model_copy(update=update) if update else settings


def _summary(report: EmbedReport) -> str:
    return (
        f"embedded {report.embedded} products in {report.seconds:.1f}s "
        f"({report.rate:,.1f} products/s); {report.pending} still without a vector"
        + (f"; {report.stale} changed while embedding" if report.stale else "")
    )
