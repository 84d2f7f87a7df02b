"""`shelf ingest`: index a catalog file, then (unless ``--embed later``) embed what it added."""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

from search.cli.common import emit
from search.cli.embed import embed_after_ingest
from search.settings import Settings

# `shelf ingest` exit codes (README, "Exit codes"); 2 is bad input, as for every command.
EXIT_OK = 0
EXIT_NOTHING_STORED = 1
EXIT_REJECTS = 3


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    """Index a catalog file (JSONL, CSV or Parquet) into the configured backend.

    Exits 0 when every record was stored (rows superseded by a later row of the same id count as
    stored), 3 when some were rejected (0 with ``--allow-rejects``), 1 when none could be stored.
    """
    from catalog.dialect import ReadOptions, check_encoding, delimiter_argument
    from catalog.ingest import IngestReport, ingest_file
    from catalog.mapping import IDENTITY, load_mapping
    from search.recall.factory import make_recall

    if args.backend:
        settings = settings.model_copy(update={"recall_backend": args.backend})
    mapping = load_mapping(args.mapping) if args.mapping else IDENTITY
    if args.include_unpublished:
        mapping = mapping.including_skipped()
    if args.decimal_comma:
        mapping = mapping.model_copy(update={"decimal_comma": True})
    delimiter = delimiter_argument(args.delimiter) if args.delimiter else None
    encoding = check_encoding(args.encoding) if args.encoding else None
    read_options = ReadOptions(encoding=encoding, delimiter=delimiter)
    bar = None
    if sys.stderr.isatty() and not args.json:
        from tqdm import tqdm

        bar = tqdm(unit=" records", unit_scale=True, file=sys.stderr, desc="ingest")

    def progress(report: IngestReport) -> None:
        if bar is not None:
            bar.update(report.read - bar.n)
            bar.set_postfix(stored=report.stored, rejected=report.rejected, refresh=False)

    run_chunks = None
    if args.celery:
        from workers.celery_app import make_celery_app
        from workers.ingest_tasks import distributed_chunks

        run_chunks = partial(
            distributed_chunks,
            make_celery_app(settings, client=True),
            mapping=mapping,
            queue=settings.ingest_queue,
            in_flight=settings.ingest_in_flight,
            timeout_s=settings.ingest_task_timeout_s,
        )
    rejects_path: Path = (
        args.rejects or settings.data_dir / "rejects" / f"{args.path.name}.rejects.jsonl"
    )
    rejects_path.parent.mkdir(parents=True, exist_ok=True)
    recall = make_recall(settings)
    rejects_out = open(rejects_path, "w", encoding="utf-8")  # noqa: SIM115
    try:
        report = ingest_file(
            args.path,
            recall,
            mapping=mapping,
            full=args.full,
            rejects_out=rejects_out,
            progress=progress,
            run_chunks=run_chunks,
            read_options=read_options,
            limits=settings.record_limits,
            index_dir=settings.index_dir,
        )
    finally:
        if bar is not None:
            bar.close()
        recall.close()
        rejects_out.close()
        if not args.rejects and not rejects_path.stat().st_size:
            rejects_path.unlink()  # no default rejects file for a clean (or failed) ingest
    written = bool(report.rejected or report.duplicates)
    if not args.json:
        for reject in report.rejects:
            print(f"  rejected line {reject.line_no}: {reject.reason}", file=sys.stderr)
        if report.rejected > len(report.rejects):
            print(f"  ... and {report.rejected - len(report.rejects)} more", file=sys.stderr)
        for row in report.superseded:
            print(f"  duplicate line {row.line_no}: {row.reason}", file=sys.stderr)
        if report.duplicates > len(report.superseded):
            print(f"  ... and {report.duplicates - len(report.superseded)} more", file=sys.stderr)
    rate = report.read / report.seconds if report.seconds else 0.0
    if report.read and not report.stored:
        code = EXIT_NOTHING_STORED
    elif report.rejected and not args.allow_rejects:
        code = EXIT_REJECTS
    else:
        code = EXIT_OK
    emit(
        args,
        {**report.as_dict(), "rejects_file": str(rejects_path) if written else None,
         "exit_code": code},
        f"{report.source}: read {report.read}, indexed {report.indexed}, updated "
        f"{report.updated}, unchanged {report.unchanged}, rejected {report.rejected}, "
        f"duplicates {report.duplicates}, deleted {report.deleted}"
        + "".join(f", skipped {count} ({reason})" for reason, count in report.skipped.items())
        + f" in {report.seconds:.1f}s ({rate:,.0f} records/s)"
        + (f"; rejects written to {rejects_path}" if written else "")
        + (
            f"\n{report.rejected} rows were NOT indexed (exit code {EXIT_REJECTS}; "
            "--allow-rejects accepts them)" if code == EXIT_REJECTS else ""
        ),
    )  # fmt: skip
    return code


def cmd_ingest_and_embed(args: argparse.Namespace, settings: Settings) -> int:
    """``shelf ingest``: index the file, then (unless ``--embed later``) the embedding pass."""
    code = cmd_ingest(args, settings)
    if code == 0:
        embed_after_ingest(args, settings)
    return code
