"""The synonym store against a SQLite file and the real PostgreSQL: CRUD, duplicates, the set
limit, all-or-nothing imports, and the snapshot running servers reload."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from search.errors import Conflict, LimitExceeded, NotFound
from search.events.log import SqliteEventLog
from search.synonyms.model import parse_synonym_line
from search.synonyms.store import (
    LineReject,
    SynonymStore,
    numbered_lines,
    parse_synonym_lines,
    rule_language,
)
from tests.stores import postgres_event_log


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SynonymStore]:
    """A store of 5 rules per set, in a SQLite file, then in the real PostgreSQL (tables of
    this test only, dropped after it)."""
    prefix = f"t{uuid.uuid4().hex[:8]}_"
    if request.param == "sqlite":
        log = SqliteEventLog(f"sqlite:///{tmp_path / 'events.db'}", table_prefix=prefix)
    else:
        log = postgres_event_log(prefix)  # type: ignore[assignment]
    synonyms = SynonymStore(log.engine, table_prefix=prefix, max_rules=5)
    yield synonyms
    synonyms.drop_tables()
    log.drop_tables()
    log.close()


def _rule(line: str, language: str | None = None):  # type: ignore[no-untyped-def]
    return parse_synonym_line(line, language)


def _lines(store: SynonymStore, set_name: str | None = None) -> list[tuple[str | None, str]]:
    return [(s.rule.language, s.rule.line()) for s in store.rules(set_name)]


def test_rules_are_created_read_updated_and_deleted(store: SynonymStore) -> None:
    created, new = store.create(_rule("Sneakers, Trainers", "en"))
    assert new and created.rule.line() == "sneakers, trainers"
    assert store.get(created.id) == created
    assert created.created_at.tzinfo is not None
    time.sleep(0.01)
    updated = store.update(created.id, _rule("tv => television"))
    assert updated.rule.language is None and updated.updated_at > created.updated_at
    assert updated.created_at == created.created_at
    assert store.get(created.id).rule == updated.rule
    assert store.delete(created.id).rule == updated.rule
    with pytest.raises(NotFound, match=f"synonym {created.id} does not exist"):
        store.get(created.id)
    with pytest.raises(NotFound):
        store.update(created.id, _rule("a, b"))
    with pytest.raises(NotFound):
        store.delete(created.id)


def test_rules_are_listed_and_counted_per_set(store: SynonymStore) -> None:
    store.create(_rule("a, b", "de"))
    store.create(_rule("c, d"))
    store.create(_rule("e => f", "en"))
    assert _lines(store) == [("de", "a, b"), (None, "c, d"), ("en", "e => f")]
    assert _lines(store, "de") == [("de", "a, b")]
    assert _lines(store, "*") == [(None, "c, d")]
    assert (store.count(), store.count("en"), store.count("fr")) == (3, 1, 0)


def test_the_same_rule_in_its_set_is_kept_once(store: SynonymStore) -> None:
    first, _ = store.create(_rule("a, b", "de"))
    again, created = store.create(_rule("B, a", "de"))  # terms in any order, any case
    assert not created and again.id == first.id
    other, created = store.create(_rule("a, b", "en"))  # another set: another rule
    assert created and other.id != first.id
    one_way, created = store.create(_rule("a => b", "de"))  # another direction
    assert created
    with pytest.raises(Conflict, match=f"synonym {first.id} already holds"):
        store.update(one_way.id, _rule("b, a", "de"))


def test_ids_are_never_reused(store: SynonymStore) -> None:
    first, _ = store.create(_rule("a, b"))
    store.delete(first.id)
    second, _ = store.create(_rule("c, d"))
    assert second.id > first.id


def test_a_full_set_refuses_one_more_naming_the_setting(store: SynonymStore) -> None:
    for index in range(5):
        store.create(_rule(f"a{index}, b{index}", "de"))
    with pytest.raises(LimitExceeded, match=r"'de' holds 5 rules.*SHELF_SYNONYMS_MAX_RULES"):
        store.create(_rule("x, y", "de"))
    store.create(_rule("x, y", "en"))  # the limit is per set
    moving = store.rules("en")[0]
    with pytest.raises(LimitExceeded):
        store.update(moving.id, _rule("x, y", "de"))
    assert store.count("de") == 5 and store.count("en") == 1


def test_an_import_adds_what_is_new_and_keeps_what_is_there(store: SynonymStore) -> None:
    kept, _ = store.create(_rule("a, b", "de"))
    rules = [_rule("b, a"), _rule("c => d"), _rule("c => d"), _rule("e, f")]
    outcome = store.import_rules(rules, "de")
    assert (outcome.added, outcome.unchanged, outcome.removed, outcome.total) == (2, 2, 0, 3)
    assert store.get(kept.id) == kept  # same id, same times
    assert _lines(store, "de") == [("de", "a, b"), ("de", "c => d"), ("de", "e, f")]


def test_an_import_in_replace_mode_removes_only_its_sets_other_rules(store: SynonymStore) -> None:
    kept, _ = store.create(_rule("a, b", "de"))
    store.create(_rule("x, y", "de"))
    store.create(_rule("x, y", "en"))
    outcome = store.import_rules([_rule("a, b"), _rule("c, d")], "de", replace_set=True)
    assert (outcome.added, outcome.unchanged, outcome.removed, outcome.total) == (1, 1, 1, 2)
    assert store.get(kept.id) == kept
    assert _lines(store) == [("de", "a, b"), ("en", "x, y"), ("de", "c, d")]
    assert store.import_rules([], "de", replace_set=True).total == 0  # empties the set


@pytest.mark.parametrize("replace_set", [False, True])
def test_an_import_over_the_limit_changes_nothing(store: SynonymStore, replace_set: bool) -> None:
    store.create(_rule("a, b", "de"))
    before = store.rules()
    rules = [_rule(f"n{index}, m{index}") for index in range(6)]
    with pytest.raises(LimitExceeded, match=r"'de' would hold \d+ rules.*allows 5: nothing"):
        store.import_rules(rules, "de", replace_set=replace_set)
    assert store.rules() == before


def test_an_import_failing_midway_rolls_back_whole(store: SynonymStore) -> None:
    """A store that refuses the insert after the replace's delete ran: the delete is undone."""
    store.create(_rule("a, b", "de"))
    before = store.rules()

    def refuse_inserts(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("INSERT"):
            raise sa.exc.OperationalError(statement, parameters, RuntimeError("disk full"))

    sa.event.listen(store.engine, "before_cursor_execute", refuse_inserts)
    try:
        with pytest.raises(sa.exc.OperationalError):
            store.import_rules([_rule("c, d"), _rule("e, f")], "de", replace_set=True)
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", refuse_inserts)
    assert store.rules() == before


def test_concurrent_imports_never_overfill_a_set(store: SynonymStore) -> None:
    """Two writers, each within the limit alone, together over it: one of them is refused."""
    from concurrent.futures import ThreadPoolExecutor

    batches = [[_rule(f"{side}{index}, {side}x{index}") for index in range(3)] for side in "ab"]
    barrier = threading.Barrier(2)

    def write(batch: list) -> str:  # type: ignore[type-arg]
        barrier.wait()
        try:
            store.import_rules(batch, "de")
        except LimitExceeded:
            return "refused"
        return "imported"

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(write, batches))
    assert outcomes == ["imported", "refused"] and store.count("de") == 3


def test_the_snapshot_follows_every_kind_of_change(store: SynonymStore) -> None:
    assert len(store.snapshot()) == 0
    created, _ = store.create(_rule("tv => television", "en"))
    assert store.snapshot().also_searches("tv", ["en"]) == ("television",)
    unchanged = store.snapshot()
    assert store.snapshot() is unchanged  # nothing changed: not read again
    store.update(created.id, _rule("tv => telly", "en"))  # same count, same ids
    assert store.snapshot().also_searches("tv", ["en"]) == ("telly",)
    store.delete(created.id)
    store.create(_rule("tv, telly", "en"))
    assert store.snapshot().also_searches("telly", ["en"]) == ("tv",)
    store.import_rules([_rule("a, b")], None, replace_set=True)
    assert store.snapshot().also_searches("a", []) == ("b",)


@pytest.mark.parametrize(
    ("value", "language"),
    [(None, None), ("*", None), ("de", "de"), ("DE", "de"), ("de_CH", "de"), ("zh-Hant-TW", "zh")],
)
def test_a_rule_belongs_to_a_language_shelf_analyses_or_to_all(
    value: str | None, language: str | None
) -> None:
    assert rule_language(value) == language


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("xx", "not a valid BCP-47 tag"),
        ("sv", "Shelf cannot analyse Swedish"),
        ("ja-Latn", "not Latn"),
        ("", "not a valid BCP-47 tag"),
        ("**", "not a valid BCP-47 tag"),
    ],
)
def test_an_unknown_language_is_refused_naming_the_supported_ones(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rule_language(value)


def test_every_bad_line_of_a_text_is_rejected_with_its_number() -> None:
    text = "\ufeffa, b\r\n\n# a comment\nbad,\nc => c\n  x => y  \na => b => c\nsolo\n"
    rules, rejects = parse_synonym_lines(numbered_lines(text), "de")
    assert [rule.line() for rule in rules] == ["a, b", "x => y"]
    assert all(rule.language == "de" for rule in rules)
    assert [(r.line, r.text) for r in rejects] == [
        (4, "bad,"),
        (5, "c => c"),
        (7, "a => b => c"),
        (8, "solo"),
    ]
    assert all(isinstance(r, LineReject) and r.reason for r in rejects)
