"""`shelf analytics`: top, zero-result and no-click queries, one query, searches per day, and
the log exported in the UBI schema. Reads the event store (``SHELF_EVENTS_URL``) directly, with
the same k-anonymity threshold as the API (``SHELF_ANALYTICS_MIN_USERS``)."""

from __future__ import annotations

import argparse
from contextlib import closing
from functools import partial
from pathlib import Path
from typing import Any

from search.analytics.queries import QueryList
from search.analytics.window import Window, check_limit, make_window, to_utc
from search.cli.common import Handler, add_command, emit
from search.cli.parsers import parse_time
from search.errors import InvalidQuery
from search.settings import Settings


def _window(args: argparse.Namespace) -> Window:
    return make_window(args.locale, args.start, args.end)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _rows_text(rows: list[dict[str, Any]], key: str) -> str:
    header = (
        f"{key:<32} {'searches':>8} {'users':>6} {'zero':>6} {'CTR':>7} {'conv':>7} "
        f"{'1st click':>9}"
    )
    lines = [header]
    for row in rows:
        first = row["mean_first_click_position"]
        lines.append(
            f"{row[key][:32]:<32} {row['searches']:>8} {row['users']:>6} "
            f"{row['zero_result_searches']:>6} {_pct(row['ctr']):>7} {_pct(row['conversion']):>7} "
            f"{'-' if first is None else f'{first:.2f}':>9}"
        )
    return "\n".join(lines)


def _list(which: QueryList) -> Handler:
    def handler(args: argparse.Namespace, settings: Settings) -> int:
        from search.analytics.reports import query_list
        from search.events.log import make_event_log

        window = _window(args)
        limit = check_limit(args.limit, settings.analytics_max_rows)
        with closing(make_event_log(settings)) as store:
            body = query_list(
                store, window, which, min_users=settings.analytics_min_users, limit=limit
            )
        human = _rows_text(body["queries"], "query") if body["queries"] else (
            f"no queries sent by at least {body['min_users']} users (SHELF_ANALYTICS_MIN_USERS: "
            "distinct client networks, or shoppers of their events)"
        )  # fmt: skip
        emit(args, body, human)
        return 0

    handler.__doc__ = f"The {which} queries list."
    return handler


def cmd_query(args: argparse.Namespace, settings: Settings) -> int:
    """One query's numbers."""
    from search.analytics.reports import one_query
    from search.events.log import make_event_log

    window = _window(args)
    with closing(make_event_log(settings)) as store:
        body = one_query(store, window, args.query, min_users=settings.analytics_min_users)
    emit(args, body, _rows_text([body], "query"))
    return 0


def cmd_daily(args: argparse.Namespace, settings: Settings) -> int:
    """Searches per UTC day."""
    from search.analytics.reports import daily
    from search.events.log import make_event_log

    window = _window(args)
    with closing(make_event_log(settings)) as store:
        body = daily(store, window)
    emit(args, body, _rows_text(body["days"], "day") if body["days"] else "no searches")
    return 0


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    """The log as UBI JSON Lines."""
    from search.analytics.ubi import export_ubi
    from search.events.log import make_event_log

    since = None if args.since is None else to_utc(args.since, "--since")
    out: Path = args.out
    if out.exists() and not out.is_dir():
        raise InvalidQuery(f"--out: {out} is a file, not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with closing(make_event_log(settings)) as store:
            summary = export_ubi(store.engine, store.tables, out, since)
    except OSError as exc:  # a directory that cannot be made, or written into
        raise InvalidQuery(f"--out: cannot write into {out}: {exc.strerror or exc}") from None
    human = (
        f"UBI {summary['ubi_version']}: {summary['queries']} queries, {summary['events']} "
        f"events -> {', '.join(summary['files'])}"
    )
    emit(args, summary, human)
    return 0


def _window_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--locale", help="queries in this locale's language (de-CH, de); default all"
    )
    parser.add_argument(
        "--from",
        dest="start",
        type=parse_time,
        help="start, inclusive (ISO 8601; UTC if no offset)",
    )
    parser.add_argument(
        "--to", dest="end", type=parse_time, help="end, exclusive (ISO 8601; UTC if no offset)"
    )


def add_analytics_commands(analytics: argparse.ArgumentParser) -> None:
    """The subcommands of ``shelf analytics``."""
    commands = analytics.add_subparsers(dest="analytics_command", required=True)
    command = partial(add_command, commands)
    for name, which, text in (
        ("top", "top", "The most searched queries."),
        ("zero", "zero", "Queries whose searches matched nothing."),
        ("no-clicks", "no-clicks", "Queries with results but not one click."),
    ):
        sub = command(name, _list(which), text)  # type: ignore[arg-type]
        _window_arguments(sub)
        sub.add_argument("--limit", type=int, default=50, help="most queries (default 50)")
    one = command("query", cmd_query, "One query's CTR, conversion and first-click position.")
    one.add_argument("query")
    _window_arguments(one)
    _window_arguments(command("daily", cmd_daily, "Searches, zero results, CTR per UTC day."))
    export = command("export", cmd_export, "Export searches and events as JSON Lines.")
    export.add_argument("--format", choices=["ubi"], default="ubi", help="ubi (UBI 1.3.0)")
    export.add_argument("--since", type=parse_time, help="only what happened from then (ISO 8601)")
    export.add_argument(
        "--out",
        type=Path,
        default=Path("."),
        help="directory for ubi_queries.jsonl and ubi_events.jsonl (default: here)",
    )
