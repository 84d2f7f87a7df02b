"""The synonym store: per-language sets of synonym rules, kept in the event store's database.

One table, ``<prefix>synonyms``, beside the experiments tables (the same SQLAlchemy engine and
``SHELF_EVENTS_TABLE_PREFIX``), on SQLite and PostgreSQL alike. A rule belongs to one set: a
language code (``de``), or ``*`` for the rules of every language (``language`` NULL in the
table). A set holds at most ``SHELF_SYNONYMS_MAX_RULES`` rules.

Duplicates are idempotent: a rule is identified within its set by its terms and direction (the
order of terms aside), so adding one that is already there keeps the stored one, and an import
counts it as unchanged. Every write is one transaction: an import that cannot be applied whole
(a malformed line, the set's limit) applies nothing.

Running servers never read this per search: they hold a ``SynonymSet`` snapshot that
``search.events.refreshed.Refreshed`` reloads from ``snapshot()`` (cheap when nothing changed).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa

from catalog.locales import canonical_locale, language_of
from search.errors import Conflict, LimitExceeded, NotFound
from search.lazy_tables import create_when_connected
from search.synonyms.model import SynonymRule, SynonymSet, parse_synonym_line

#: The name of the set holding the rules of every language (``language`` None).
EVERY_LANGUAGE = "*"
_IDS_PER_DELETE = 500  # SQLite caps bound parameters per statement


def rule_language(value: str | None) -> str | None:
    """The language a rule belongs to: None for every language (None or ``*``), else the
    language code of a locale Shelf analyses (``de``, ``DE``, ``de-CH`` -> ``de``).
    ``ValueError`` naming the supported languages for any other value."""
    if value is None or value.strip() == EVERY_LANGUAGE:
        return None
    return language_of(canonical_locale(value)).code


def set_name(language: str | None) -> str:
    """A set's name: the language code, or ``*`` for the rules of every language."""
    return language or EVERY_LANGUAGE


@dataclass(frozen=True)
class StoredSynonym:
    """A rule as stored: its id and when it was created and last changed (UTC)."""

    id: int
    rule: SynonymRule
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class LineReject:
    """A line of an import that is not a rule: its 1-based number, text and why."""

    line: int
    text: str
    reason: str


@dataclass(frozen=True)
class ImportOutcome:
    """What an import did to one set: rules added, already there (or repeated in the import),
    removed (``replace`` mode), and the set's size after it."""

    language: str | None
    added: int
    unchanged: int
    removed: int
    total: int


def numbered_lines(text: str) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` of a text, 1-based, split at ``\\n`` (``\\r\\n`` too) as editors
    count lines; a leading byte-order mark is dropped."""
    for number, line in enumerate(text.removeprefix("\ufeff").split("\n"), start=1):
        yield number, line.removesuffix("\r")


def parse_synonym_lines(
    lines: Iterable[tuple[int, str]], language: str | None
) -> tuple[list[SynonymRule], list[LineReject]]:
    """The rules of numbered lines in the text format, and every line that is not one, with
    its number and reason. Blank lines and lines starting with ``#`` (comments, as in Solr's
    files) are skipped."""
    rules: list[SynonymRule] = []
    rejects: list[LineReject] = []
    for number, line in lines:
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            rules.append(parse_synonym_line(text, language))
        except ValueError as exc:
            rejects.append(LineReject(number, line, str(exc)))
    return rules, rejects


def rule_key(rule: SynonymRule) -> str:
    """What makes a rule the same as another in its set: its set, its direction and its terms
    in any order (SHA-256 hex, a fixed width for the unique index)."""
    parts = [set_name(rule.language), rule.kind, *sorted(rule.terms), "=>"]
    parts += sorted(rule.replacements)
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def synonyms_table(prefix: str, metadata: sa.MetaData) -> sa.Table:
    """``<prefix>synonyms``: one row per rule. ``version`` counts its changes (a snapshot
    notices an edit by it, whatever the writers' clocks say)."""
    return sa.Table(
        f"{prefix}synonyms",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("language", sa.String(8), index=True),  # NULL: every language
        sa.Column("rule_key", sa.String(64), nullable=False, unique=True),
        sa.Column("line", sa.Text, nullable=False),
        sa.Column("terms", sa.JSON, nullable=False),
        sa.Column("replacements", sa.JSON, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sqlite_autoincrement=True,  # ids are never reused after a delete
    )


class SynonymStore:
    """The synonym rules in the event store's database (SQLite or PostgreSQL)."""

    def __init__(
        self, engine: sa.Engine, *, table_prefix: str = "shelf_", max_rules: int = 10_000
    ) -> None:
        self.engine = engine
        self.max_rules = max_rules
        self.metadata = sa.MetaData()
        self.table = synonyms_table(table_prefix, self.metadata)
        create_when_connected(engine, self.metadata)  # not now: the store may be down
        self._snapshot: tuple[tuple[Any, ...], SynonymSet] | None = None

    def _in_set(self, name: str) -> sa.ColumnElement[bool]:
        language = self.table.c.language
        return language.is_(None) if name == EVERY_LANGUAGE else language == name

    def rules(
        self, set_name: str | None = None, *, limit: int | None = None, offset: int = 0
    ) -> list[StoredSynonym]:
        """The rules of one set (a language code or ``*``), or of every set (None), by id."""
        query = sa.select(self.table).order_by(self.table.c.id).offset(offset).limit(limit)
        if set_name is not None:
            query = query.where(self._in_set(set_name))
        with self.engine.connect() as conn:
            return [_stored(row) for row in conn.execute(query).mappings()]

    def count(self, set_name: str | None = None) -> int:
        """Rules in one set (a language code or ``*``), or in every set (None)."""
        query = sa.select(sa.func.count()).select_from(self.table)
        if set_name is not None:
            query = query.where(self._in_set(set_name))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def get(self, synonym_id: int) -> StoredSynonym:
        """One rule by id; ``NotFound`` when absent."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(self.table).where(self.table.c.id == synonym_id))
            found = row.mappings().first()
        if found is None:
            raise _not_found(synonym_id)
        return _stored(found)

    def create(self, rule: SynonymRule) -> tuple[StoredSynonym, bool]:
        """Store ``rule`` in its set; ``(stored, True)``, or ``(the rule already there, False)``
        when its set holds the same rule. ``LimitExceeded`` when the set is full."""
        key = rule_key(rule)
        try:
            with self.engine.begin() as conn:
                self._one_writer(conn)
                same = self._by_key(conn, key)
                if same is not None:
                    return same, False
                self._check_room(conn, rule.language, 1)
                now = dt.datetime.now(dt.UTC)
                row = _row(rule, now)
                new_id = conn.execute(
                    self.table.insert().values(row).returning(self.table.c.id)
                ).scalar_one()
        except sa.exc.IntegrityError:  # another writer added the same rule meanwhile
            with self.engine.connect() as conn:
                same = self._by_key(conn, key)
            if same is None:
                raise
            return same, False
        return StoredSynonym(int(new_id), rule, now, now), True

    def update(self, synonym_id: int, rule: SynonymRule) -> StoredSynonym:
        """Replace rule ``synonym_id`` (its text, its set); ``NotFound`` when absent,
        ``Conflict`` when its new set already holds the same rule under another id,
        ``LimitExceeded`` when it moves to a full set."""
        key = rule_key(rule)
        table = self.table
        with self.engine.begin() as conn:
            self._one_writer(conn)
            row = conn.execute(sa.select(table).where(table.c.id == synonym_id)).mappings()
            current = row.first()
            if current is None:
                raise _not_found(synonym_id)
            same = self._by_key(conn, key)
            if same is not None and same.id != synonym_id:
                raise Conflict(
                    f"synonym {same.id} already holds this rule in set "
                    f"{set_name(rule.language)!r}: delete one of the two instead"
                )
            if current["language"] != rule.language:
                self._check_room(conn, rule.language, 1)
            now = dt.datetime.now(dt.UTC)
            values = _row(rule, now)
            del values["created_at"]
            values["version"] = table.c.version + 1
            conn.execute(table.update().where(table.c.id == synonym_id).values(values))
        return StoredSynonym(synonym_id, rule, _utc(current["created_at"]), now)

    def delete(self, synonym_id: int) -> StoredSynonym:
        """Remove rule ``synonym_id`` and return it; ``NotFound`` when absent."""
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(self.table).where(self.table.c.id == synonym_id))
            found = row.mappings().first()
            if found is None:
                raise _not_found(synonym_id)
            conn.execute(self.table.delete().where(self.table.c.id == synonym_id))
        return _stored(found)

    def import_rules(
        self, rules: Sequence[SynonymRule], language: str | None, *, replace_set: bool = False
    ) -> ImportOutcome:
        """Add ``rules`` to the set of ``language`` (each rule is moved to it), in one
        transaction: all of them or, on any error, none. Rules already in the set are kept as
        they are (ids and times unchanged). ``replace_set``: also remove the set's rules that
        are not among ``rules``. ``LimitExceeded``, nothing applied, when the set would hold
        more than ``max_rules``."""
        wanted: dict[str, SynonymRule] = {}
        for rule in rules:
            placed = replace(rule, language=language)
            wanted.setdefault(rule_key(placed), placed)
        table = self.table
        name = set_name(language)
        with self.engine.begin() as conn:
            self._one_writer(conn)
            query = sa.select(table.c.rule_key, table.c.id).where(self._in_set(name))
            stored = {key: rule_id for key, rule_id in conn.execute(query)}
            new = [rule for key, rule in wanted.items() if key not in stored]
            removed = [rule_id for key, rule_id in stored.items() if key not in wanted]
            if not replace_set:
                removed = []
            total = len(stored) - len(removed) + len(new)
            if total > self.max_rules:
                raise LimitExceeded(
                    f"set {name!r} would hold {total} rules ({len(stored)} stored, "
                    f"{len(new)} new, {len(removed)} removed); SHELF_SYNONYMS_MAX_RULES allows "
                    f"{self.max_rules}: nothing was imported"
                )
            for start in range(0, len(removed), _IDS_PER_DELETE):
                chunk = removed[start : start + _IDS_PER_DELETE]
                conn.execute(table.delete().where(table.c.id.in_(chunk)))
            if new:
                now = dt.datetime.now(dt.UTC)
                # One statement, the rows as parameters: multi-row VALUES pages on both engines.
                conn.execute(table.insert(), [_row(rule, now) for rule in new])
        return ImportOutcome(language, len(new), len(rules) - len(new), len(removed), total)

    def snapshot(self) -> SynonymSet:
        """Every rule as a ``SynonymSet``; read again only when the table changed since the
        last call (its row count, highest id and summed versions tell)."""
        table = self.table
        fingerprint_query = sa.select(
            sa.func.count(), sa.func.max(table.c.id), sa.func.sum(table.c.version)
        )
        with self.engine.connect() as conn:
            fingerprint = tuple(conn.execute(fingerprint_query).one())
            if self._snapshot is not None and self._snapshot[0] == fingerprint:
                return self._snapshot[1]
            query = sa.select(table.c.language, table.c.terms, table.c.replacements)
            rules = [
                SynonymRule(tuple(terms), tuple(replacements), language)
                for language, terms, replacements in conn.execute(query.order_by(table.c.id))
            ]
        synonyms = SynonymSet.of(rules)
        self._snapshot = (fingerprint, synonyms)
        return synonyms

    def drop_tables(self) -> None:
        """Drop the synonyms table (tests clean up with it)."""
        self.metadata.drop_all(self.engine)

    def _one_writer(self, conn: sa.Connection) -> None:
        """Make the writers of this table (any process) wait for each other until this
        transaction ends, so the set limit checked here still holds when it commits."""
        if conn.dialect.name == "postgresql":
            lock = sa.text("SELECT pg_advisory_xact_lock(hashtext(:name))")
            conn.execute(lock, {"name": self.table.name})
        else:  # SQLite: a write statement takes the database's write lock at once
            conn.execute(self.table.delete().where(sa.false()))

    def _by_key(self, conn: sa.Connection, key: str) -> StoredSynonym | None:
        row = conn.execute(sa.select(self.table).where(self.table.c.rule_key == key))
        found = row.mappings().first()
        return None if found is None else _stored(found)

    def _check_room(self, conn: sa.Connection, language: str | None, adding: int) -> None:
        name = set_name(language)
        query = sa.select(sa.func.count()).select_from(self.table).where(self._in_set(name))
        held = int(conn.execute(query).scalar_one())
        if held + adding > self.max_rules:
            raise LimitExceeded(
                f"set {name!r} holds {held} rules, the most SHELF_SYNONYMS_MAX_RULES allows "
                f"({self.max_rules}): delete some, or raise the setting"
            )


def _row(rule: SynonymRule, now: dt.datetime) -> dict[str, Any]:
    return {
        "language": rule.language,
        "rule_key": rule_key(rule),
        "line": rule.line(),
        "terms": list(rule.terms),
        "replacements": list(rule.replacements),
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }


def _stored(row: Any) -> StoredSynonym:
    rule = SynonymRule(tuple(row["terms"]), tuple(row["replacements"]), row["language"])
    return StoredSynonym(int(row["id"]), rule, _utc(row["created_at"]), _utc(row["updated_at"]))


def _utc(value: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes (written as UTC); PostgreSQL aware ones."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _not_found(synonym_id: int) -> NotFound:
    return NotFound(
        f"synonym {synonym_id} does not exist: GET /synonyms lists those that do",
        cli_message=f"synonym {synonym_id} does not exist: `shelf synonyms list` lists those "
        "that do",
    )
