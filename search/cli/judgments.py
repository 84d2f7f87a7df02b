"""``shelf judgments from-clicks``: graded TREC qrels (and the queries file) from the search log's
clicks, corrected for position bias (``search.evaluation.clicks``), for ``shelf eval``."""

from __future__ import annotations

import argparse
import datetime as dt
from contextlib import closing
from functools import partial
from pathlib import Path
from typing import Any

from search.cli.common import add_command, emit
from search.cli.parsers import number_list, parse_time
from search.errors import InvalidQuery
from search.settings import Settings


def parse_thresholds(text: str) -> tuple[float, float, float]:
    """Three ascending COEC thresholds for grades 1, 2 and 3, e.g. ``0.05,0.15,0.35``."""
    values = number_list(text, float) or []
    if len(values) != 3 or not 0 < values[0] < values[1] < values[2]:
        raise argparse.ArgumentTypeError(
            f"expected three ascending positive numbers (e.g. 0.05,0.15,0.35), got {text!r}"
        )
    return values[0], values[1], values[2]


def cmd_from_clicks(args: argparse.Namespace, settings: Settings) -> int:
    """Write qrels and queries from the log's clicks between --since and --until."""
    from search.evaluation.clicks import (
        DEFAULT_THRESHOLDS,
        judgments_from_clicks,
        qrels_lines,
        queries_lines,
    )
    from search.events.log import make_event_log

    until = args.until or dt.datetime.now(dt.UTC)
    if args.since >= until:
        raise InvalidQuery(f"--since ({args.since.isoformat()}) must be before --until "
                           f"({until.isoformat()})")  # fmt: skip
    if args.min_impressions < 1:
        raise InvalidQuery(f"--min-impressions must be at least 1 (got {args.min_impressions})")
    if not 1 <= args.max_position <= 1000:
        raise InvalidQuery(f"--max-position must be 1-1000 (got {args.max_position})")
    queries_path: Path = args.queries_out or args.out.with_name(args.out.name + ".queries.tsv")
    with closing(make_event_log(settings)) as event_log:
        result = judgments_from_clicks(
            event_log.engine,
            event_log.tables,
            args.since,
            until,
            min_impressions=args.min_impressions,
            max_position=args.max_position,
            thresholds=args.grades or DEFAULT_THRESHOLDS,
            min_users=settings.analytics_min_users,
        )
    args.out.write_text("".join(qrels_lines(result)), encoding="utf-8")
    queries_path.write_text("".join(queries_lines(result)), encoding="utf-8")
    grades = [0, 0, 0, 0]
    for judgment in result.judgments:
        grades[judgment.grade] += 1
    summary: dict[str, Any] = {
        "since": args.since.isoformat(),
        "until": until.isoformat(),
        "searches": result.searches,
        "queries": len(result.queries),
        "withheld_queries": result.withheld,
        "min_users": settings.analytics_min_users,
        "judgments": len(result.judgments),
        "grades": {str(g): n for g, n in enumerate(grades)},
        "examination": [round(t, 4) for t in result.examination],
        "qrels": str(args.out),
        "queries_file": str(queries_path),
    }
    human = (
        f"{len(result.judgments)} judgments of {len(result.queries)} queries from "
        f"{result.searches} searches (grades 0-3: {grades}) -> {args.out}, {queries_path}\n"
        f"{result.withheld} queries sent by fewer than {settings.analytics_min_users} users left "
        "out (SHELF_ANALYTICS_MIN_USERS)\n"
        f"examination by position: {' '.join(f'{t:.2f}' for t in result.examination[:10])}"
    )
    emit(args, summary, human)
    return 0


def add_judgments_commands(judgments: argparse.ArgumentParser) -> None:
    """The subcommands of ``shelf judgments``."""
    commands = judgments.add_subparsers(dest="judgments_command", required=True)
    command = partial(add_command, commands)
    clicks = command(
        "from-clicks",
        cmd_from_clicks,
        "Graded qrels from clicks (COEC with position-based-model priors) for shelf eval.",
    )
    clicks.add_argument("--since", type=parse_time, required=True, help="first time (UTC ISO)")
    clicks.add_argument("--until", type=parse_time, help="end, exclusive (default: now)")
    clicks.add_argument(
        "--min-impressions", type=int, default=20, help="judge pairs shown at least N times (20)"
    )
    clicks.add_argument("--max-position", type=int, default=20, help="deepest position used (20)")
    clicks.add_argument(
        "--grades",
        type=parse_thresholds,
        help="COEC thresholds of grades 1,2,3 (default 0.05,0.15,0.35)",
    )
    clicks.add_argument("--out", type=Path, required=True, help="the qrels file to write")
    clicks.add_argument(
        "--queries-out", type=Path, help="the queries TSV (default: OUT.queries.tsv)"
    )
