"""``shelf ranker train --from-events``: the options and the run that train a ranker on the
event log's click judgments (``search.learning.from_events``) instead of judged queries."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

from search.cli.parsers import parse_time
from search.errors import InvalidQuery
from search.settings import Settings


def add_from_events_arguments(train: argparse.ArgumentParser) -> None:
    """``--from-events``, ``--since``, ``--until`` and ``--min-impressions`` on ``train``."""
    group = train.add_argument_group(
        "training on the shop's own clicks (instead of --queries and --judgments)"
    )
    group.add_argument(
        "--from-events",
        action="store_true",
        help="judge queries by the event log's clicks (COEC, debiased for position) and train "
        "on those; the catalog is the configured index, or --catalog",
    )
    group.add_argument("--since", type=parse_time, help="first search time read (UTC ISO)")
    group.add_argument("--until", type=parse_time, help="end, exclusive (default: now)")
    group.add_argument(
        "--min-impressions",
        type=int,
        default=20,
        help="judge a (query, product) shown at least N times (20)",
    )


def train_from_events_command(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    """Train on the clicks between ``--since`` and ``--until`` and save the ranker to
    ``--out``; the model card. ``InvalidQuery`` for options that do not go together."""
    from search.learning.from_events import train_from_events

    if getattr(args, "queries", None) or getattr(args, "judgments", None):
        raise InvalidQuery(
            "--from-events trains on the event log's clicks: give it without --queries and "
            "--judgments (or leave --from-events out to train on judgments)"
        )
    if args.since is None:
        raise InvalidQuery("--from-events needs --since: the first search time to read (UTC)")
    if args.min_impressions < 1:
        raise InvalidQuery(f"--min-impressions must be at least 1 (got {args.min_impressions})")
    until = args.until or dt.datetime.now(dt.UTC)
    trained, _ = train_from_events(
        settings,
        args.since,
        until,
        catalog=getattr(args, "catalog", None),
        min_impressions=args.min_impressions,
        holdout_fraction=getattr(args, "holdout", 0.25),
        seed=getattr(args, "seed", 0),
        progress=not getattr(args, "json", False),
    )
    out: Path = args.out
    trained.save(out)
    return trained.card
