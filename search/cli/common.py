"""What every ``shelf`` command module shares: the handler type, a subcommand with ``--json``,
and the output for people or machines.

Kept apart from ``search.cli.main`` (which registers every command module) so the command modules
(``search.cli.demo``, ``search.cli.embed``, ``search.cli.experiments``, ...) import this and
not the CLI that imports them.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from search.settings import Settings

if TYPE_CHECKING:
    from search.pipeline.service import SearchResult
    from search.query.budget import BudgetReport

Handler = Callable[[argparse.Namespace, Settings], int]


def emit(args: argparse.Namespace, data: object, human: str) -> None:
    """Print ``human`` for people, or ``data`` as JSON with ``--json``."""
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        print(human)


def add_command(
    commands: argparse._SubParsersAction,
    name: str,
    handler: Handler,
    help_text: str,
) -> argparse.ArgumentParser:
    """A subcommand running ``handler``, with ``--json``."""
    sub: argparse.ArgumentParser = commands.add_parser(name, help=help_text, description=help_text)
    sub.add_argument("--json", action="store_true", help="machine-readable JSON output")
    sub.set_defaults(handler=handler)
    return sub


def format_response(response: SearchResult) -> str:
    """A search result as people read it: one line per product, with both legs' ranks."""
    lines = [
        f'"{response.query}": {len(response.items)} of {response.candidates} candidates '
        f"({response.recall_mode} recall)"
    ]
    if response.degraded:
        lines.append(
            f"  degraded: {response.scored} of {response.candidates} candidates scored in time; "
            "the rest keep recall order"
        )
    if response.notice:
        lines.append(f"  note: {response.notice}")
    if response.budget is not None and response.budget.cut:
        lines.append(f"  cut to its budget: {budget_summary(response.budget)}")
    for correction in response.corrections:
        lines.append(f"  corrected: {correction.term} -> {', '.join(correction.to)}")
    for use in response.synonyms:
        lines.append(f"  synonyms: {use.term} -> also {', '.join(use.also)}")
    if response.did_you_mean:
        lines.append(f"  did you mean: {response.did_you_mean}")
    header = f"{'pos':>3}  {'rerank':>8}  {'bm25#':>5}  {'dense#':>6}  {'locale':<6}  {'id':<12}"
    lines.append(f"  {header}  title")
    for item in response.items:
        rerank = "-" if item.rerank_score is None else f"{item.rerank_score:.4f}"
        bm25 = "-" if item.bm25_rank is None else str(item.bm25_rank)
        dense = "-" if item.dense_rank is None else str(item.dense_rank)
        lines.append(
            f"  {item.position:>3}  {rerank:>8}  {bm25:>5}  {dense:>6}  {item.locale:<6}  "
            f"{item.product_id:<12}  {item.title}"
            + (f"  [pinned by {item.rule}]" if item.pinned else "")
        )
    lines.append(f"  stages: {' > '.join(response.stages)}")
    timings = "  ".join(f"{stage} {ms:.1f} ms" for stage, ms in response.timings_ms.items())
    lines.append(f"  timings: {timings}")
    return "\n".join(lines)


def budget_summary(budget: BudgetReport) -> str:
    """What a query's budget left out, in one line (``SHELF_SEARCH_MAX_TERMS`` ...)."""
    parts = [f"{budget.terms} of at most {budget.max_terms} terms (SHELF_SEARCH_MAX_TERMS)"]
    if budget.words_dropped:
        shown = " ".join(budget.words_dropped[:8])
        more = " ..." if len(budget.words_dropped) > 8 else ""
        parts.append(f"{len(budget.words_dropped)} words left out: {shown}{more}")
    if budget.corrections_dropped:
        parts.append(f"{budget.corrections_dropped} words not typo-corrected")
    if budget.synonyms_dropped:
        parts.append(f"at least {budget.synonyms_dropped} synonym phrases left out")
    return "; ".join(parts)
