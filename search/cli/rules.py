"""`shelf rules`: list, add, delete, import, export merchandising rules and read their audit.

The CLI works on the event store directly (``SHELF_EVENTS_URL``) and checks product ids against
the index (``SHELF_RECALL_BACKEND``), like the API. Changes are audited as the OS user. Running
servers apply a change within ``SHELF_RULES_REFRESH_S`` seconds.
"""

from __future__ import annotations

import argparse
import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from catalog.product import describe_validation_error
from search.cli.common import add_command, emit
from search.cli.parsers import read_json_file
from search.errors import InvalidQuery
from search.merchandising.book import RuleBook, parse_rules
from search.merchandising.model import Rule, RuleSpec
from search.settings import Settings


@contextmanager
def open_book(settings: Settings, *, with_index: bool = True) -> Iterator[RuleBook]:
    """The rules of the configured event store, checked against the configured index."""
    from search.events.log import make_event_log
    from search.recall.factory import make_recall

    event_log = make_event_log(settings)
    recall = make_recall(settings) if with_index else None
    try:
        yield RuleBook(
            event_log.engine,
            recall,
            table_prefix=settings.events_table_prefix,
            max_rules=settings.rules_max,
            refresh_s=settings.rules_refresh_s,
        )
    finally:
        if recall is not None:
            recall.close()
        event_log.close()


def actor() -> str:
    """Who the audit records for a CLI change: ``cli:<OS user>``."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def rule_line(rule: RuleSpec) -> str:
    """One rule for people: id, condition, actions, window."""
    cond = rule.condition
    acts = [f"pin {p.product_id}@{p.position}" for p in rule.actions.pins]
    acts += [f"hide {pid}" for pid in rule.actions.hide]
    acts += [f"{b.field} {b.value} x{b.factor:g}" for b in rule.actions.boosts]
    window = ""
    if rule.start or rule.end:
        start = rule.start.isoformat() if rule.start else "..."
        window = f"  [{start} .. {rule.end.isoformat() if rule.end else '...'})"
    state = "" if rule.enabled else " (disabled)"
    return (
        f"{rule.id}{state}: query {cond.match} {cond.phrase!r} ({cond.language or 'any language'})"
        f" -> {', '.join(acts)}{window}"
    )


def _spec(args: argparse.Namespace) -> RuleSpec:
    if args.file is not None:
        data = read_json_file(args.file, "rule")
    else:
        if (args.equals is None) == (args.contains is None):
            raise InvalidQuery("give exactly one of --equals PHRASE and --contains PHRASE")
        pins = []
        for text in args.pin or []:
            product_id, sep, position = text.rpartition("@")
            if not sep or not position.isdigit():
                raise InvalidQuery(f"--pin {text!r}: expected PRODUCT_ID@POSITION (e.g. p1@1)")
            pins.append({"product_id": product_id, "position": int(position)})
        boosts = []
        for text in args.boost or []:
            head, sep, factor = text.rpartition("=")
            field, colon, value = head.partition(":")
            try:
                boosts.append({"field": field, "value": value, "factor": float(factor)})
            except ValueError:
                sep = ""
            if not (sep and colon):
                raise InvalidQuery(
                    f"--boost {text!r}: expected brand:VALUE=FACTOR or category:VALUE=FACTOR "
                    "(e.g. brand:acme=2, category:Toys=0.5)"
                )
        data = {
            "id": args.id,
            "description": args.description or "",
            "enabled": not args.disabled,
            "condition": {
                "match": "equals" if args.equals is not None else "contains",
                "phrase": args.equals if args.equals is not None else args.contains,
                "language": args.language,
            },
            "actions": {"pins": pins, "hide": args.hide or [], "boosts": boosts},
            "start": args.start,
            "end": args.end,
        }
    try:
        return RuleSpec.model_validate(data)
    except ValidationError as exc:
        raise InvalidQuery("invalid rule: " + describe_validation_error(exc)) from None


def _dump(rule: Rule) -> dict[str, Any]:
    return rule.model_dump(mode="json")


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    """Every rule, by id."""
    with open_book(settings, with_index=False) as book:
        rules = book.rules()
    emit(args, [_dump(r) for r in rules], "\n".join(rule_line(r) for r in rules) or "no rules")
    return 0


def cmd_add(args: argparse.Namespace, settings: Settings) -> int:
    """Store a new rule (or replace it with ``--replace``)."""
    spec = _spec(args)
    with open_book(settings) as book:
        rule = book.update(spec, actor()) if args.replace else book.create(spec, actor())
    emit(args, _dump(rule), ("replaced " if args.replace else "added ") + rule_line(rule))
    return 0


def cmd_delete(args: argparse.Namespace, settings: Settings) -> int:
    """Delete a rule."""
    with open_book(settings, with_index=False) as book:
        rule = book.delete(args.id, actor())
    emit(args, _dump(rule), f"deleted {rule_line(rule)}")
    return 0


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    """Create or replace every rule of a file in one transaction, or none."""
    try:
        text = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidQuery(f"{args.file}: cannot be read ({exc})") from None
    specs, where = parse_rules(text, str(args.file))
    with open_book(settings) as book:
        rules = book.import_rules(specs, actor(), replace=args.replace, where=where)
    emit(args, {"imported": len(rules)}, f"imported {len(rules)} rules from {args.file}")
    return 0


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    """Every rule as JSON Lines (what ``import`` reads)."""
    with open_book(settings, with_index=False) as book:
        rules = book.rules()
    if args.json:
        emit(args, [_dump(r) for r in rules], "")
    else:
        for rule in rules:
            spec = RuleSpec.model_validate(rule.model_dump(exclude={"created_at", "updated_at"}))
            print(json.dumps(spec.model_dump(mode="json"), ensure_ascii=False))
    return 0


def cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    """The latest changes, newest first."""
    with open_book(settings, with_index=False) as book:
        entries = book.audit(args.id, args.limit)
    human = "\n".join(
        f"{e.at.isoformat(timespec='seconds')} {e.actor:<20} {e.action:<7} {e.rule_id}"
        for e in entries
    )
    emit(args, [e.model_dump(mode="json") for e in entries], human or "no changes")
    return 0


def add_rules_commands(rules: argparse.ArgumentParser) -> None:
    """The subcommands of ``shelf rules``."""
    commands = rules.add_subparsers(dest="rules_command", required=True)
    command = partial(add_command, commands)
    command("list", cmd_list, "List the rules, by id.")
    add = command("add", cmd_add, "Add a rule (checked against the index and other rules).")
    add.add_argument("id", nargs="?", help="rule id: lower-case letters, digits, . _ -")
    add.add_argument("--equals", metavar="PHRASE", help="the query equals this phrase")
    add.add_argument("--contains", metavar="PHRASE", help="the query contains these words")
    add.add_argument("--language", help="only queries in this language (default: any)")
    add.add_argument("--pin", action="append", metavar="ID@POS", help="pin a product at a position")
    add.add_argument("--hide", action="append", metavar="ID", help="hide a product")
    add.add_argument(
        "--boost", action="append", metavar="FIELD:VALUE=FACTOR",
        help="brand:acme=2 boosts, category:Toys=0.5 buries",
    )  # fmt: skip
    add.add_argument("--start", help="ISO 8601 with an offset (2026-11-27T00:00:00+01:00)")
    add.add_argument("--end", help="ISO 8601 with an offset; the rule stops applying then")
    add.add_argument("--description")
    add.add_argument("--disabled", action="store_true", help="store it disabled")
    add.add_argument("--file", type=Path, help="the whole rule as JSON instead")
    add.add_argument("--replace", action="store_true", help="replace the rule with this id")
    delete = command("delete", cmd_delete, "Delete a rule.")
    delete.add_argument("id")
    imp = command("import", cmd_import, "Import rules (JSON Lines or a JSON array): all or none.")
    imp.add_argument("file", type=Path)
    imp.add_argument("--replace", action="store_true", help="also delete rules not in the file")
    command("export", cmd_export, "Print every rule as JSON Lines (what import reads).")
    audit = command("audit", cmd_audit, "Show the latest changes, newest first.")
    audit.add_argument("id", nargs="?", help="only this rule's changes")
    audit.add_argument("--limit", type=int, default=50)
