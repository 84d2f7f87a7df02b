"""The ``shelf`` command line: human-readable by default, JSON with ``--json``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from search import __version__
from search.cli.common import add_command
from search.cli.embed import add_embed_arguments, add_ingest_embed_argument, cmd_embed
from search.cli.ingest import EXIT_REJECTS, cmd_ingest_and_embed
from search.cli.models import cmd_make_test_model
from search.cli.search import add_search_arguments, cmd_search
from search.cli.serve import cmd_serve
from search.cli.worker import cmd_worker
from search.errors import ShelfError
from search.settings import Settings, get_settings, settings_error

if TYPE_CHECKING:
    from fastapi import FastAPI


log = logging.getLogger("shelf")


def _create_app(settings: Settings) -> FastAPI:
    """The API app (``shelf experiments simulate`` runs it in process); imported only when used."""
    from search.api.app import create_app

    return create_app(settings)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every ``shelf`` command."""
    from catalog.samples import SAMPLE_CATALOG

    parser = argparse.ArgumentParser(
        prog="shelf",
        description="Multilingual product search: hybrid recall (BM25 and dense, fused by RRF), "
        "cross-encoder rerank.",
    )
    parser.add_argument("--version", action="version", version=f"shelf {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    command = partial(add_command, commands)

    ingest = command(
        "ingest", cmd_ingest_and_embed, "Index a product catalog (JSON Lines, CSV, Parquet)."
    )
    add_ingest_embed_argument(ingest)
    ingest.add_argument("path", type=Path, help="catalog file: .jsonl, .csv, .tsv or .parquet")
    ingest.add_argument(
        "--backend",
        choices=["embedded", "elasticsearch"],
        help="recall backend to index into (default: SHELF_RECALL_BACKEND)",
    )
    ingest.add_argument("--mapping", type=Path, help="field mapping file (catalog/mappings/*.json)")
    ingest.add_argument(
        "--rejects",
        type=Path,
        help="write rejected and superseded records here (JSONL; default: "
        "SHELF_DATA_DIR/rejects/<file name>.rejects.jsonl, kept only when there are any)",
    )
    ingest.add_argument(
        "--delimiter",
        help="CSV delimiter: , ; tab | or any one character (default: sniffed among , ; tab |)",
    )
    ingest.add_argument(
        "--encoding",
        help="text encoding, e.g. cp1252, latin-1, utf-16, or 'auto' to detect it with "
        "charset-normalizer (default: UTF-8; a row that does not decode is rejected alone)",
    )
    ingest.add_argument(
        "--decimal-comma",
        action="store_true",
        help='read prices like "24,99" and "1.234,56" (the mapping option "decimal_comma")',
    )
    ingest.add_argument(
        "--allow-rejects",
        action="store_true",
        help=f"exit 0 when some records were rejected (default: exit {EXIT_REJECTS})",
    )
    ingest.add_argument(
        "--include-unpublished",
        action="store_true",
        help="index the products the mapping's skip rules leave out (Shopify drafts, archived or "
        "unpublished products)",
    )
    ingest.add_argument(
        "--full", action="store_true", help="replace the whole catalog: delete products not in PATH"
    )
    ingest.add_argument(
        "--celery",
        action="store_true",
        help="spread the chunks over Celery workers (`shelf worker --queues ingest`); they index "
        "into their own configured backend",
    )

    add_embed_arguments(
        command("embed", cmd_embed, "Embed the products that lack a vector (the dense leg).")
    )

    search = command(
        "search",
        cmd_search,
        "Search the product index, with the event store's synonym and merchandising rules.",
    )
    add_search_arguments(search)

    worker = command("worker", cmd_worker, "Run a Celery rerank worker (SHELF_RERANK_MODE=celery).")
    worker.add_argument(
        "--concurrency", type=int, help="requests taken at once (SHELF_WORKER_CONCURRENCY)"
    )
    worker.add_argument(
        "--queues",
        help="comma-separated queues to serve (default: SHELF_RERANK_QUEUE); "
        "add SHELF_INGEST_QUEUE (ingest) for `shelf ingest --celery` and SHELF_EMBED_QUEUE "
        "(embed) for `shelf embed --celery`",
    )
    worker.add_argument("--loglevel", default="INFO")
    worker.add_argument("--hostname", help="Celery node name, e.g. gpu0@%%h")

    serve = command("serve", cmd_serve, "Run the HTTP API (FastAPI on uvicorn); docs at /docs.")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes (default 1); each loads its own model, so prefer 1 per CPU socket/GPU",
    )
    serve.add_argument("--loglevel", default="INFO")
    serve.add_argument(
        "--limit-concurrency",
        type=int,
        metavar="N",
        help="connections plus requests taken at once before uvicorn answers a plain-text 503; "
        "idle keep-alive connections count (default: SHELF_SERVE_LIMIT_CONCURRENCY, unset: "
        "none; searches are limited by SHELF_API_MAX_IN_FLIGHT with a JSON 503)",
    )
    serve.add_argument(
        "--timeout-keep-alive",
        type=int,
        metavar="S",
        help="close idle keep-alive connections after S seconds "
        "(default: SHELF_SERVE_TIMEOUT_KEEP_ALIVE_S, 5)",
    )
    serve.add_argument(
        "--timeout-graceful",
        type=int,
        metavar="S",
        help="on SIGTERM, wait at most S seconds for the requests being answered, then stop "
        "(default: SHELF_SERVE_TIMEOUT_GRACEFUL_S, 5)",
    )

    model = command(
        "make-test-model",
        cmd_make_test_model,
        "Build the tiny random-weight test cross-encoder (tests and speed benchmarks only: "
        "loading it needs SHELF_ALLOW_RANDOM_WEIGHTS=1).",
    )
    model.add_argument("dir", type=Path, help="output directory")
    model.add_argument("--catalog", type=Path, default=SAMPLE_CATALOG, help="tokenizer corpus")
    model.add_argument("--seed", type=int, default=0)

    from search.cli.evaluation import add_eval_arguments, cmd_eval

    add_eval_arguments(
        command(
            "eval", cmd_eval, "Score search quality on judged queries: nDCG, MRR, P, R by language."
        )
    )

    from search.cli.judgments import add_judgments_commands

    judgments_help = "Relevance judgments for shelf eval, derived from the log's clicks."
    add_judgments_commands(
        commands.add_parser("judgments", help=judgments_help, description=judgments_help)
    )

    from search.cli.ranker import add_ranker_commands

    ranker_help = "The learned ranker: train one on judged queries."
    add_ranker_commands(commands.add_parser("ranker", help=ranker_help, description=ranker_help))

    from search.cli.experiments import add_experiments_commands

    experiments_help = "A/B experiments: create, start, stop, report, simulate."
    add_experiments_commands(
        commands.add_parser("experiments", help=experiments_help, description=experiments_help),
        app_factory=_create_app,
    )

    from search.cli.synonyms import add_synonyms_commands

    synonyms_help = "Synonym rules: list, add, delete, import, export."
    add_synonyms_commands(
        commands.add_parser("synonyms", help=synonyms_help, description=synonyms_help)
    )

    from search.cli.suggest import SUGGEST_HELP, add_suggest_arguments, cmd_suggest

    add_suggest_arguments(command("suggest", cmd_suggest, SUGGEST_HELP))
    from search.cli.rules import add_rules_commands

    rules_help = "Merchandising rules: pin, hide, boost, bury for queries; import, export, audit."
    add_rules_commands(commands.add_parser("rules", help=rules_help, description=rules_help))

    from search.cli.analytics import add_analytics_commands

    analytics_help = "Search analytics: top, zero-result, no-click queries; daily; UBI export."
    add_analytics_commands(
        commands.add_parser("analytics", help=analytics_help, description=analytics_help)
    )

    from search.cli.demo import cmd_demo

    demo = command("demo", cmd_demo, "Run sample queries in eight languages, and cross-lingual.")
    demo.add_argument("--k", type=int, default=5)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``shelf`` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # transformers' advice about tokenizer padding speed is noise for shoppers' queries.
    logging.getLogger("transformers.tokenization_utils_base").setLevel(logging.ERROR)
    try:
        settings = get_settings()
    except ValidationError as exc:
        print(f"shelf {args.command}: error: {settings_error(exc)}", file=sys.stderr)
        return 2
    try:
        return int(args.handler(args, settings))
    except ShelfError as exc:
        message = getattr(exc, "cli_message", None) or exc  # the CLI's advice, not the API's
        print(f"shelf {args.command}: error: {message}", file=sys.stderr)
        # Bad input (a 4xx in the API) is 2; Shelf failing to do the work is 1.
        return 2 if exc.status_code < 500 else 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if not _store_unreachable(exc):
            raise
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        print(
            f"shelf {args.command}: error: the event store (SHELF_EVENTS_URL) cannot be reached "
            f"({type(exc).__name__}: {first[0] if first else ''}): start it, or retry",
            file=sys.stderr,
        )
        return 1


def _store_unreachable(exc: Exception) -> bool:
    """Whether ``exc`` is the event store being down (SQLAlchemy is imported by then if so)."""
    sqlalchemy = sys.modules.get("sqlalchemy")
    if sqlalchemy is None:
        return False
    down = (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError)
    return isinstance(exc, down)


if __name__ == "__main__":
    sys.exit(main())
