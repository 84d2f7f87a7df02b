"""``shelf suggest PREFIX``: the completions a server would answer, built once from the event
store and the index that the settings name."""

from __future__ import annotations

import argparse

from catalog.locales import canonical_locale, language_of
from search.cli.common import emit
from search.errors import InvalidQuery, LimitExceeded
from search.settings import Settings

SUGGEST_HELP = "Complete a prefix from popular queries and the catalog's words (autocomplete)."


def add_suggest_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``shelf suggest``."""
    parser.add_argument("prefix", help="what the shopper typed so far")
    parser.add_argument("--locale", help="the shopper's locale (de-DE) or language; absent: all")
    parser.add_argument("--limit", type=int, default=10, help="most completions (default 10)")


def cmd_suggest(args: argparse.Namespace, settings: Settings) -> int:
    """Build the suggestions once (as a server's background rebuild does) and complete
    ``args.prefix``; bad input raises (exit 2)."""
    from search.events.log import make_event_log
    from search.suggest.service import make_suggestions

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
        suggestions = make_suggestions(settings, event_log.engine, event_log.tables.searches)
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
