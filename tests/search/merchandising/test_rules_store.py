"""The rule store on SQLite and PostgreSQL: a 10,000-rule import in one transaction, and
imports that break a limit or hold one bad line change nothing (the CLI's and API's path)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from search.errors import Conflict, InvalidQuery
from search.events.log import SqliteEventLog
from search.merchandising.book import RuleBook, parse_rules
from search.recall.embedded.backend import EmbeddedRecall
from tests.stores import postgres_event_log

LIMIT = 10_000


@pytest.fixture(params=["sqlite", "postgresql"])
def book(
    request: pytest.FixtureRequest, tmp_path: Path, sample_index: EmbeddedRecall
) -> Iterator[RuleBook]:
    if request.param == "sqlite":
        log = SqliteEventLog(f"sqlite:///{tmp_path / 'events.db'}", table_prefix="t_")
    else:
        log = postgres_event_log(f"r{uuid.uuid4().hex[:8]}_")
    rules = RuleBook(log.engine, sample_index, table_prefix=log.tables.searches.name[:-8],
                     max_rules=LIMIT, refresh_s=60)  # fmt: skip
    yield rules
    rules.store.drop_tables()
    log.drop_tables()
    log.close()


def lines(n: int, *, start: int = 0, product: str = "en-us-0001") -> list[str]:
    """``n`` rules as JSON Lines, each pinning ``product`` for its own query."""
    return [
        json.dumps(
            {
                "id": f"q{i}",
                "condition": {"match": "equals", "phrase": f"query {i}"},
                "actions": {
                    "pins": [{"product_id": product, "position": 1}],
                    "hide": ["en-us-0002"],
                },
            }
        )  # fmt: skip
        for i in range(start, start + n)
    ]


def test_ten_thousand_rules_import_at_once_and_a_bad_import_changes_nothing(
    book: RuleBook,
) -> None:
    specs, where = parse_rules("\n".join(lines(LIMIT)))
    started = time.perf_counter()
    book.import_rules(specs, "cli:test", where=where)
    took = time.perf_counter() - started
    assert book.store.count() == LIMIT and len(book.current()) == LIMIT
    assert took < 20, f"a 10,000-rule import took {took:.1f} s"
    print(f"10,000-rule import: {took:.2f} s")  # noqa: T201
    audit = book.audit(limit=5)
    assert {e.action for e in audit} == {"import"} and audit[0].actor == "cli:test"

    with pytest.raises(InvalidQuery, match=r"10001 rules; at most 10000 \(SHELF_RULES_MAX\)"):
        more, at = parse_rules("\n".join(lines(1, start=LIMIT)))
        book.import_rules(more, "cli:test", where=at)
    bad, _ = parse_rules(lines(1, start=LIMIT - 1, product="no-such-product")[0])
    where = {spec.id: f"line {n}" for n, spec in enumerate(specs, start=1)}
    with pytest.raises(InvalidQuery, match=r"line 10000 'q9999': unknown product ids 'no-such"):
        book.import_rules(specs[:-1] + bad, "cli:test", where=where, replace=True)
    assert book.store.count() == LIMIT and book.store.version() == audit[0].seq
    assert book.current().version == audit[0].seq


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('{"id": "a"', "line 1: not valid JSON"),
        ('\n\n"x"', "line 3: record"),
        (
            '{"id": "a", "condition": {"match": "equals", "phrase": "x"}, "actions": {}}',
            "line 1: actions",
        ),
        ("\n".join(lines(2) + lines(1)), "line 3: rule id 'q0' is also at line 1"),
        ("", "holds no rule"),
        ('[{"id": "a"}]', "rules[0]"),
    ],
)
def test_a_bad_import_file_is_refused_by_line(text: str, named: str) -> None:
    with pytest.raises(InvalidQuery, match=named.replace("[", r"\[").replace("(", r"\(")):
        parse_rules(text)


def test_collisions_inside_one_import_are_a_conflict_naming_both_lines(book: RuleBook) -> None:
    clash = lines(1) + [lines(1)[0].replace('"q0"', '"other"').replace("en-us-0001", "en-us-0005")]
    specs, where = parse_rules("\n".join(clash))
    with pytest.raises(Conflict, match="line 1 'q0': pins 'en-us-0001' at position 1, where "
                                       "rule 'other' pins 'en-us-0005'"):  # fmt: skip
        book.import_rules(specs, "cli:test", where=where)
    assert book.rules() == []


def test_an_audit_made_before_notes_gets_the_column_and_its_entries_stay_readable(
    book: RuleBook, sample_index: EmbeddedRecall
) -> None:
    specs, where = parse_rules("\n".join(lines(1)))
    book.import_rules(specs, "alice", where=where)  # as the header once made actors: free text
    audit = book.store.tables.audit
    with book.store.engine.begin() as conn:
        conn.execute(sa.text(f'ALTER TABLE {audit.name} DROP COLUMN "note"'))
    prefix = audit.name.removesuffix("rule_audit")
    reopened = RuleBook(book.store.engine, sample_index, table_prefix=prefix, max_rules=LIMIT,
                        refresh_s=60)  # fmt: skip
    columns = {c["name"] for c in sa.inspect(book.store.engine).get_columns(audit.name)}
    assert "note" in columns
    reopened.delete("q0", "key:12345678", note="ana")
    assert [(e.action, e.actor, e.note) for e in reopened.audit()] == [
        ("delete", "key:12345678", "ana"), ("import", "alice", None)
    ]  # fmt: skip
