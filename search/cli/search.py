"""``shelf search``: one request through the search service, as ``GET /search`` serves it, with
the synonym and merchandising rules of the event store applied
(``search.pipeline.stored_rules``)."""

from __future__ import annotations

import argparse
import sys

from search.cli.common import emit, format_response
from search.cli.parsers import add_recall_option
from search.errors import ModelUnavailable, RecallUnavailable
from search.settings import Settings


def add_search_arguments(search: argparse.ArgumentParser) -> None:
    """The options of ``shelf search``."""
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
    add_recall_option(search)
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


def check_index(settings: Settings) -> None:
    """``RecallUnavailable`` when the embedded index does not exist: searching a folder with
    none would make an empty one and find nothing."""
    if settings.recall_backend == "embedded" and not settings.index_dir.exists():
        raise RecallUnavailable(
            f"no index at {settings.index_dir}: run `shelf ingest FILE` first, or set "
            "SHELF_DATA_DIR to the folder that holds the index"
        )


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    """Search the index and print the ranked products, with the synonym and merchandising rules
    of the event store applied as the server applies them.

    Without ``--facets/--sort/--page/--price``: the first ``--k`` products (all reranked, the
    rerank window at least ``--k``); with them, one page of the match set with its total and
    facets, ``--k`` items a page. When the reranking model is not on this machine (offline,
    not downloaded), the search runs without it and a note on stderr says how to get it; a
    model that is present but cannot be loaded is an error."""
    from search.pipeline.request import SearchParams, cli_policy, parse_search_request
    from search.pipeline.service import make_service
    from search.pipeline.stored_rules import read_stored_rules

    request = parse_search_request(
        SearchParams(
            args.query, k=args.k, page=args.page, sort=args.sort, facets=args.facets,
            lang=args.lang, locale=args.locale, product_locale=args.product_locale,
            recall=args.recall, category=args.category, brand=args.brand,
            min_price=args.min_price, max_price=args.max_price,
            in_stock=True if args.in_stock else None, price=args.price,
            rerank=not args.no_rerank, recall_k=args.recall_k,
        ),
        cli_policy(settings),
    )  # fmt: skip
    check_index(settings)  # before the store: a folder with no index is left as it is
    stored = read_stored_rules(settings)
    if stored.problem:
        print(f"shelf search: warning: {stored.problem}", file=sys.stderr)
    try:
        service = make_service(
            settings,
            rerank=request.rerank,
            synonyms=lambda: stored.synonyms,
            rules=lambda: stored.rules,
            without_missing_model=True,
        )
    except ModelUnavailable as exc:
        raise ModelUnavailable(
            f"the reranker could not be loaded: {exc}; or pass --no-rerank to rank in recall "
            "order without it"
        ) from exc
    if service.missing_reranker is not None:
        print(f"shelf search: note: {service.missing_reranker.announcement()}", file=sys.stderr)
    try:
        result = service.search(request)
    finally:
        service.close()
    met = f"\n  rules: {', '.join(result.rules)}" if result.rules else ""
    if not request.paged:
        emit(args, result.as_dict(), format_response(result) + met)
        return 0
    bound = "" if result.total_exact else "at least "
    lines = [
        f"{bound}{result.total} results; page {result.page} ({result.sort})",
        format_response(result) + met,
    ]
    for name, values in result.facets.items():
        shown = ", ".join(f"{v.value} ({v.count})" for v in values) or "-"
        lines.append(f"  {name}: {shown}")
    emit(args, result.as_dict(), "\n".join(lines))
    return 0
