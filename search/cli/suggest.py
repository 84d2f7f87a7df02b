"""``shelf suggest PREFIX``: the completions a server would answer, built once from the event
store and the index that the settings name; ``--block``, ``--unblock`` and ``--blocked`` keep
the operator's blocklist (``search.suggest.blocklist``) in that event store, recorded as the OS
user. Running servers apply a change within ``SHELF_SUGGEST_REFRESH_S`` seconds."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from catalog.locales import canonical_locale, language_of
from search.cli.common import emit
from search.errors import InvalidQuery, LimitExceeded
from search.settings import Settings

if TYPE_CHECKING:
    from search.suggest.blocklist import BlockedPhrase

SUGGEST_HELP = "Complete a prefix from popular queries and the catalog's words (autocomplete)."


def add_suggest_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``shelf suggest``."""
    parser.add_argument("prefix", nargs="?", help="what the shopper typed so far")
    blocklist = parser.add_mutually_exclusive_group()
    blocklist.add_argument(
        "--block",
        metavar="PHRASE",
        help="never suggest PHRASE, nor any completion holding it as whole words (any case, "
        "width or accents)",
    )
    blocklist.add_argument("--unblock", metavar="PHRASE", help="suggest PHRASE again")
    blocklist.add_argument("--blocked", action="store_true", help="list the blocked phrases")
    parser.add_argument("--locale", help="the shopper's locale (de-DE) or language; absent: all")
    parser.add_argument("--limit", type=int, default=10, help="most completions (default 10)")


def cmd_suggest(args: argparse.Namespace, settings: Settings) -> int:
    """Build the suggestions once (as a server's background rebuild does) and complete
    ``args.prefix``; bad input raises (exit 2)."""
    from search.events.log import make_event_log
    from search.suggest.service import make_suggestions

    if args.block is not None or args.unblock is not None or args.blocked:
        if args.prefix is not None:
            raise InvalidQuery("give PREFIX, or one of --block, --unblock, --blocked; not both")
        return _blocklist(args, settings)
    if args.prefix is None:
        raise InvalidQuery("PREFIX: required (or one of --block, --unblock, --blocked)")
    if len(args.prefix) > settings.api_max_query_chars:
        raise LimitExceeded(
            f"PREFIX is {len(args.prefix)} characters; the limit is "
            f"{settings.api_max_query_chars} (SHELF_API_MAX_QUERY_CHARS)"
        )
    if not 1 <= args.limit <= settings.suggest_max_limit:
        raise LimitExceeded(
            f"--limit must be between 1 and {settings.suggest_max_limit} "
            f"(SHELF_SUGGEST_MAX_LIMIT); got {args.limit}"
        )
    language = locale = None
    if args.locale is not None:
        try:
            locale = canonical_locale(args.locale)
            language = language_of(locale).code
        except ValueError as exc:
            raise InvalidQuery(f"--locale: {exc}") from None
    event_log = make_event_log(settings)
    try:
        suggestions = make_suggestions(settings, event_log.engine, event_log.tables)
        suggestions.refresh()
        snapshot = suggestions.get()
        found = snapshot.suggest(args.prefix, language, args.limit)
    finally:
        event_log.close()
    # The names of GET /suggest's answer (search.api.routes.suggest.SuggestOut).
    built_at = snapshot.built_at.isoformat() if snapshot.built_at else None
    data = {
        "q": args.prefix,
        "locale": locale,
        "language": language,
        "suggestions": [vars(s) for s in found],
        "built_at": built_at,
    }
    lines = [
        f"{s.text}\t{s.users} users\t{s.products} products" + ("\t(typo)" if s.typo else "")
        for s in found
    ]
    emit(args, data, "\n".join(lines) or "(no suggestions)")
    return 0


def _blocklist(args: argparse.Namespace, settings: Settings) -> int:
    """``--block``, ``--unblock`` or ``--blocked`` on the configured event store."""
    from search.cli.rules import actor
    from search.events.log import make_event_log
    from search.suggest.blocklist import BlockStore

    event_log = make_event_log(settings)
    try:
        store = BlockStore(event_log.engine, table_prefix=settings.events_table_prefix)
        if args.blocked:
            entries = store.entries()
            data: object = {"blocked": [e.model_dump(mode="json") for e in entries]}
            human = "\n".join(_line(e) for e in entries) or "(nothing blocked)"
        elif args.block is not None:
            entry, new = store.block(args.block, actor())
            data = {**entry.model_dump(mode="json"), "created": new}
            human = ("blocked: " if new else "already blocked: ") + _line(entry)
        else:
            entry = store.unblock(args.unblock)
            data = {**entry.model_dump(mode="json"), "removed": True}
            human = "unblocked: " + _line(entry)
    finally:
        event_log.close()
    emit(args, data, human)
    return 0


def _line(entry: BlockedPhrase) -> str:
    return f"{entry.phrase}\t(key {entry.key!r}, by {entry.actor}, {entry.at:%Y-%m-%d %H:%M})"
