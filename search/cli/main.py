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
from search.cli.common import add_command, emit, format_response
from search.cli.embed import add_embed_arguments, add_ingest_embed_argument, cmd_embed
from search.cli.ingest import EXIT_REJECTS, cmd_ingest_and_embed
from search.cli.models import cmd_make_test_model
from search.cli.serve import cmd_serve
from search.cli.worker import cmd_worker
from search.errors import InvalidQuery, RecallUnavailable, ShelfError
from search.settings import Settings, get_settings, settings_error

if TYPE_CHECKING:
    from fastapi import FastAPI

    from search.pipeline.service import SearchPipeline
    from search.synonyms.model import SynonymSet

log = logging.getLogger("shelf")


def _create_app(settings: Settings) -> FastAPI:
    """The API app (``shelf experiments simulate`` runs it in process); imported only when used."""
    from search.api.app import create_app

    return create_app(settings)


def _pipeline(
    settings: Settings, rerank: bool, synonyms: SynonymSet | None = None
) -> SearchPipeline:
    """The search pipeline of ``shelf search``, applying ``synonyms``. ``RecallUnavailable`` when
    the embedded index does not exist: searching a folder with none would make an empty one and
    find nothing."""
    from search.pipeline.service import make_pipeline

    _check_index(settings)
    return make_pipeline(
        settings, rerank=rerank, synonyms=None if synonyms is None else lambda: synonyms
    )


def _check_index(settings: Settings) -> None:
    if settings.recall_backend == "embedded" and not settings.index_dir.exists():
        raise RecallUnavailable(
            f"no index at {settings.index_dir}: run `shelf ingest FILE` first, or set "
            "SHELF_DATA_DIR to the folder that holds the index"
        )


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    """Search the index and print the ranked products, with the synonym and merchandising rules
    of the event store applied as the server applies them (``search.pipeline.stored_rules``).

    Without ``--facets/--sort/--page/--price``: the first ``--k`` products (all reranked, the
    rerank window at least ``--k``); with them, one page of the match set with its total and
    facets, ``--k`` items a page. Both go through ``search.results.result_set.search_page``, as
    ``GET /search`` does."""
    import dataclasses

    from search.pipeline.service import MAX_K
    from search.pipeline.stored_rules import read_stored_rules
    from search.recall import SearchFilters
    from search.recall.facets import parse_price_bucket
    from search.results.result_set import search_page

    filters = SearchFilters(
        locale=args.product_locale or args.locale,
        category=args.category,
        brand=args.brand,
        min_price=args.min_price,
        max_price=args.max_price,
        in_stock=True if args.in_stock else None,
    )
    paged = args.facets is not None or bool(args.sort) or args.page is not None or bool(args.price)
    if args.price:
        if args.min_price is not None or args.max_price is not None:
            raise InvalidQuery("--price (a facet bucket) and --min-price/--max-price: give one")
        low, high = parse_price_bucket(args.price)
        filters = dataclasses.replace(filters, min_price=low, price_below=high)
    if not paged and not 1 <= args.k <= MAX_K:
        raise InvalidQuery(f"--k must be between 1 and {MAX_K} (got {args.k})")
    _check_index(settings)  # before the store: a folder with no index is left as it is
    stored = read_stored_rules(settings)
    if stored.problem:
        print(f"shelf search: warning: {stored.problem}", file=sys.stderr)
    recall_k = args.recall_k
    if not paged:  # the first k products are the reranked head, as before pages existed
        recall_k = max(args.recall_k or settings.recall_k, args.k)
    pipeline = _pipeline(settings, rerank=not args.no_rerank, synonyms=stored.synonyms)
    try:
        result = search_page(
            pipeline,
            args.query,
            page=1 if args.page is None else args.page,
            size=args.k,
            sort=args.sort or "relevance",
            facets=args.facets or (),
            filters=filters,
            query_language=args.lang or args.locale,
            recall_mode=args.recall,
            recall_k=recall_k,
            max_result_window=settings.api_max_result_window,
            price_edges=settings.facet_price_edges,
            max_facet_values=settings.facet_max_values,
            rules=stored.rules,
        )
    finally:
        pipeline.close()
    response = dataclasses.replace(result.response, items=result.items)
    rules = {"rules": list(result.rules)}
    met = f"\n  rules: {', '.join(result.rules)}" if result.rules else ""
    if not paged:
        emit(args, {**response.as_dict(), **rules}, format_response(response) + met)
        return 0
    data = {
        **response.as_dict(),
        "total": result.total,
        "total_exact": result.total_exact,
        "page": result.page,
        "size": result.size,
        "sort": result.sort,
        "has_more": result.has_more,
        "facets": {
            name: [dataclasses.asdict(value) for value in values]
            for name, values in result.facets.items()
        },
        **rules,
    }
    bound = "" if result.total_exact else "at least "
    lines = [
        f"{bound}{result.total} results; page {result.page} ({result.sort})",
        format_response(response) + met,
    ]
    for name, values in result.facets.items():
        shown = ", ".join(f"{v.value} ({v.count})" for v in values) or "-"
        lines.append(f"  {name}: {shown}")
    emit(args, data, "\n".join(lines))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every ``shelf`` command."""
    from catalog.samples import SAMPLE_CATALOG

    parser = argparse.ArgumentParser(
        prog="shelf", description="Multilingual product search: BM25 recall + cross-encoder rerank."
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
    search.add_argument("query", help="what the shopper typed, in any language")
    search.add_argument(
        "--locale",
        help="legacy: the query's language AND the only products eligible (de-DE or de); "
        "prefer --lang and --product-locale",
    )
    search.add_argument("--lang", help="the query's language: how BM25 analyses it, nothing more")
    search.add_argument(
        "--product-locale",
        help="only products in this locale's language (de-DE or de; en-GB finds en-US products)",
    )
    search.add_argument(
        "--recall",
        choices=["bm25", "dense", "hybrid"],
        help="recall legs (default: SHELF_RECALL_MODE, hybrid)",
    )
    search.add_argument("--k", type=int, default=10, help="results to return (default 10)")
    search.add_argument("--recall-k", type=int, help="candidates to recall (SHELF_RECALL_K)")
    search.add_argument(
        "--no-rerank",
        action="store_true",
        help="recall order only (BM25, or the fused legs), no reranking",
    )
    search.add_argument("--category", help="category or any ancestor, e.g. 'Books'")
    search.add_argument("--brand", help="exact brand (case, spaces and punctuation forgiven)")
    search.add_argument("--min-price", type=float)
    search.add_argument("--max-price", type=float)
    search.add_argument("--in-stock", action="store_true", help="only products in stock")
    search.add_argument(
        "--facets",
        help="count the match set per value of these (comma-separated): category, brand, "
        "price, in_stock; prints the total too",
    )
    search.add_argument(
        "--sort", help="relevance (default), price_asc, price_desc or newest (not reranked)"
    )
    search.add_argument("--page", type=int, help="1-based page of --k results (past the head)")
    search.add_argument("--price", help="a price facet value: LOW-HIGH (LOW <= price < HIGH)")

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
        "make-test-model", cmd_make_test_model, "Build the tiny random-weight test cross-encoder."
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


if __name__ == "__main__":
    sys.exit(main())
