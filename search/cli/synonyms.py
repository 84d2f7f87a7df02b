"""`shelf synonyms`: list, add, delete, import and export synonym rules.

Works on the store directly (``SHELF_EVENTS_URL``), as ``shelf experiments`` does; running servers
apply a change made here within ``SHELF_SYNONYMS_REFRESH_S`` seconds. ``--lang`` names a set: a
language Shelf analyses (``de``; a locale such as ``de-CH`` means its language), or ``*`` for the
rules of every language. Exit codes: 0 done, 2 bad input (a malformed rule, an unknown language,
a full set, an unknown id; an import then applies nothing), 1 the store failed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from search.cli.common import add_command, emit
from search.errors import InvalidQuery
from search.settings import Settings
from search.synonyms.model import parse_synonym_line
from search.synonyms.store import (
    EVERY_LANGUAGE,
    LineReject,
    StoredSynonym,
    SynonymStore,
    parse_synonym_lines,
    rule_language,
    set_name,
)

EXIT_BAD_INPUT = 2
_MAX_ID = 2**31 - 1  # the id column is a 32-bit integer on PostgreSQL


def synonym_id(text: str) -> int:
    """A rule id as argparse reads it: a whole number from 1 to 2**31 - 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= _MAX_ID:
        raise argparse.ArgumentTypeError(f"{text!r} is not a synonym id (1 to {_MAX_ID})")
    return value


@contextmanager
def open_store(settings: Settings) -> Iterator[SynonymStore]:
    """The synonym store in the event database the settings name; closed after use."""
    from search.events.log import make_event_log

    event_log = make_event_log(settings)
    try:
        yield SynonymStore(
            event_log.engine,
            table_prefix=settings.events_table_prefix,
            max_rules=settings.synonyms_max_rules,
        )
    finally:
        event_log.close()


def _language(value: str | None) -> str | None:
    try:
        return rule_language(value)
    except ValueError as exc:
        raise InvalidQuery(f"--lang: {exc}") from None


def _json(stored: StoredSynonym) -> dict[str, Any]:
    rule = stored.rule
    return {
        "id": stored.id,
        "language": rule.language,
        "rule": rule.line(),
        "kind": rule.kind,
        "terms": list(rule.terms),
        "replacements": list(rule.replacements),
        "created_at": stored.created_at.isoformat(),
        "updated_at": stored.updated_at.isoformat(),
    }


def _line(stored: StoredSynonym) -> str:
    return f"{stored.id:>7}  {set_name(stored.rule.language):<3}  {stored.rule.line()}"


def read_lines(path: Path) -> Iterator[tuple[int, str | LineReject]]:
    """A file's (or ``-``: stdin's) numbered lines; a line that is not UTF-8 comes as a reject
    naming the byte and its column."""
    try:
        data = sys.stdin.buffer.read() if str(path) == "-" else path.read_bytes()
    except OSError as exc:
        raise InvalidQuery(f"{path}: cannot be read ({exc.strerror or exc})") from None
    for number, raw in enumerate(data.removeprefix(b"\xef\xbb\xbf").split(b"\n"), start=1):
        try:
            yield number, raw.removesuffix(b"\r").decode("utf-8")
        except UnicodeDecodeError as exc:
            reason = f"not UTF-8: byte 0x{raw[exc.start]:02x} at column {exc.start + 1}"
            yield number, LineReject(number, raw.decode("utf-8", "replace"), reason)


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    """Rules by id: every set, or the one ``--lang`` names."""
    name = None if args.lang is None else set_name(_language(args.lang))
    with open_store(settings) as store:
        rules = store.rules(name)
    human = "\n".join(_line(s) for s in rules) or "no synonym rules"
    emit(args, [_json(s) for s in rules], human)
    return 0


def cmd_add(args: argparse.Namespace, settings: Settings) -> int:
    """Add one rule (kept once: the same rule already in its set is left as it is)."""
    try:
        rule = parse_synonym_line(args.rule, _language(args.lang))
    except ValueError as exc:
        raise InvalidQuery(f"rule {args.rule!r}: {exc}") from None
    with open_store(settings) as store:
        stored, created = store.create(rule)
    verb = "added" if created else "already there"
    emit(args, _json(stored) | {"created": created}, f"{verb}: {_line(stored)}")
    return 0


def cmd_delete(args: argparse.Namespace, settings: Settings) -> int:
    """Remove rules by id; an unknown id (exit 2) is found before any rule is removed."""
    with open_store(settings) as store:
        for synonym_id in args.ids:
            store.get(synonym_id)  # NotFound before anything changes
        removed = [store.delete(synonym_id) for synonym_id in dict.fromkeys(args.ids)]
    emit(args, [_json(s) for s in removed], "\n".join(f"deleted: {_line(s)}" for s in removed))
    return 0


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    """Import a file of rules, one per line, into one set: all of them, or on any bad line
    none (every bad line reported with its number; exit 2)."""
    language = _language(args.lang)
    lines: list[tuple[int, str]] = []
    undecodable: list[LineReject] = []
    for number, line in read_lines(args.file):
        if isinstance(line, LineReject):
            undecodable.append(line)
        else:
            lines.append((number, line))
    rules, rejects = parse_synonym_lines(lines, language)
    rejects = sorted(undecodable + rejects, key=lambda r: r.line)
    if rejects:
        if args.json:
            emit(args, {"imported": False, "rejects": [vars(r) for r in rejects]}, "")
        for reject in rejects:
            print(f"{args.file}:{reject.line}: {reject.reason}", file=sys.stderr)
        print(
            f"shelf synonyms import: {len(rejects)} line(s) are not rules; nothing was imported",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    with open_store(settings) as store:
        outcome = store.import_rules(rules, language, replace_set=args.replace)
    human = (
        f"set {set_name(language)!r}: {outcome.added} added, {outcome.unchanged} unchanged, "
        f"{outcome.removed} removed; {outcome.total} rules"
    )
    emit(args, {"imported": True, **vars(outcome)}, human)
    return 0


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    """Print one set's rules in the text format (what ``import`` reads back)."""
    language = _language(args.lang)
    with open_store(settings) as store:
        rules = store.rules(set_name(language))
    emit(args, [_json(s) for s in rules], "\n".join(s.rule.line() for s in rules))
    return 0


def add_synonyms_commands(synonyms: argparse.ArgumentParser) -> None:
    """The subcommands of ``shelf synonyms``."""
    commands = synonyms.add_subparsers(dest="synonyms_command", required=True)
    command = partial(add_command, commands)
    every = f"'{EVERY_LANGUAGE}', the set whose rules apply in every language"

    listing = command("list", cmd_list, "List rules by id (every set, or one).")
    listing.add_argument("--lang", help=f"only this set: a language (de), or {every}")

    add = command("add", cmd_add, "Add a rule: 'a, b, c' (equivalent) or 'a, b => c' (one-way).")
    add.add_argument("rule", help="the rule in Solr's text format")
    add.add_argument("--lang", help=f"its language (de); default {every}")

    delete = command("delete", cmd_delete, "Delete rules by id.")
    delete.add_argument("ids", type=synonym_id, nargs="+", metavar="ID")

    imported = command(
        "import",
        cmd_import,
        "Import a file of rules, one per line ('#' comments and blank lines skipped), all or "
        "nothing.",
    )
    imported.add_argument("file", type=Path, metavar="FILE", help="UTF-8 text; '-' for stdin")
    imported.add_argument("--lang", help=f"the set to import into (de); default {every}")
    imported.add_argument(
        "--replace", action="store_true", help="also delete the set's rules the file lacks"
    )

    export = command(
        "export",
        cmd_export,
        "Print the rules of ONE set, one per line (what import reads back into a set); "
        "`shelf synonyms list` shows every set.",
    )
    export.add_argument(
        "--lang",
        help=f"the set to print: a language (de), or {every} (the default: without --lang "
        "only that set is printed, not the language sets; export each with its --lang)",
    )
