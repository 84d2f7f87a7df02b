"""Merchandising rules in the event store's database (SQLite or PostgreSQL, the experiments'
engine), with an audit trail.

Tables (named with ``SHELF_EVENTS_TABLE_PREFIX``): ``<prefix>rules`` (one row per rule, the rule
as JSON) and ``<prefix>rule_audit`` (one row per change: the rule id, the action, who, when, the
rule before and after as JSON, null where it did not exist). Every change, an import of
thousands of rules included, is one transaction: its checks run on the set as it would be after
the change, before anything is written, and a failing check writes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel

from search.errors import Conflict, NotFound
from search.lazy_tables import create_when_connected
from search.merchandising.model import Rule, RuleSpec

Check = Callable[[Sequence[RuleSpec], Sequence[RuleSpec]], None]  # (incoming, after) -> raise


class AuditEntry(BaseModel):
    """One change to one rule."""

    seq: int
    rule_id: str
    action: str  # create, update, delete, import
    actor: str
    at: dt.datetime
    before: dict[str, Any] | None
    after: dict[str, Any] | None


@dataclass(frozen=True)
class RuleTables:
    """The rules table and its audit table."""

    metadata: sa.MetaData
    rules: sa.Table
    audit: sa.Table


def make_rule_tables(prefix: str) -> RuleTables:
    """``<prefix>rules`` and ``<prefix>rule_audit``."""
    metadata = sa.MetaData()
    rules = sa.Table(
        f"{prefix}rules",
        metadata,
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("rule", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    audit = sa.Table(
        f"{prefix}rule_audit",
        metadata,
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("rule_id", sa.String(64), nullable=False, index=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("before", sa.JSON),
        sa.Column("after", sa.JSON),
    )
    return RuleTables(metadata, rules, audit)


@dataclass(frozen=True)
class Stored:
    """The rules as of one ``version`` of the store (the last audit row's number: every change
    writes one), by id."""

    version: int
    rules: list[Rule]


@dataclass(frozen=True)
class Change:
    """What a change wrote (``rules``) and the whole set it left (``after``)."""

    rules: list[Rule]
    after: Stored


class RuleStore:
    """The rules of one event database. ``engine`` is the event log's (``SqlEventLog.engine``).

    Changes take ``known`` (the caller's last ``Stored``): when the store is still at its version
    the rules are not read again (reading and validating 10,000 rules costs about a second)."""

    def __init__(self, engine: sa.Engine, *, table_prefix: str = "shelf_") -> None:
        self.engine = engine
        self.tables = make_rule_tables(table_prefix)
        create_when_connected(engine, self.tables.metadata)  # not now: the store may be down

    def version(self, conn: sa.Connection | None = None) -> int:
        """The number of the last change (0: none yet)."""
        query = sa.select(sa.func.max(self.tables.audit.c.seq))
        if conn is not None:
            return int(conn.execute(query).scalar() or 0)
        with self.engine.connect() as own:
            return int(own.execute(query).scalar() or 0)

    def load(self, known: Stored | None = None) -> Stored:
        """Every rule by id, with the version read first (a change in between makes the next
        load read again); ``known`` itself when the store is still at its version."""
        with self.engine.connect() as conn:
            return self._load(conn, known)

    def rules(self) -> list[Rule]:
        """Every rule, by id."""
        return self.load().rules

    def count(self) -> int:
        """How many rules are stored."""
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(self.tables.rules)).scalar() or 0)  # fmt: skip # noqa: E501

    def rule(self, rule_id: str) -> Rule:
        """One rule; ``NotFound`` naming it."""
        table = self.tables.rules
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(table.c.rule).where(table.c.id == rule_id)).first()
        if row is None:
            raise _not_found(rule_id)
        return Rule.model_validate(row[0])

    def create(
        self, spec: RuleSpec, actor: str, check: Check, known: Stored | None = None
    ) -> Change:
        """Store a new rule; ``Conflict`` when its id is taken."""
        return self._change([spec], [], actor, "create", check, known, must_exist=False)

    def update(
        self, spec: RuleSpec, actor: str, check: Check, known: Stored | None = None
    ) -> Change:
        """Replace a rule (same id); ``NotFound`` when absent."""
        return self._change([spec], [], actor, "update", check, known, must_exist=True)

    def delete(self, rule_id: str, actor: str, known: Stored | None = None) -> Change:
        """Delete a rule (``Change.rules`` holds it as it was); ``NotFound`` when absent."""
        return self._change([], [rule_id], actor, "delete", lambda incoming, after: None, known)

    def import_rules(
        self,
        specs: Sequence[RuleSpec],
        actor: str,
        check: Check,
        known: Stored | None = None,
        *,
        replace: bool = False,
    ) -> Change:
        """Create or replace every rule of ``specs`` (with ``replace``, also delete the rules
        it does not hold), in one transaction: all of it or, when ``check`` raises, nothing."""
        return self._change(specs, None if replace else [], actor, "import", check, known)

    def audit(self, rule_id: str | None = None, limit: int = 100) -> list[AuditEntry]:
        """The latest ``limit`` changes (of ``rule_id`` only, when given), newest first. A
        deleted rule's changes stay readable; ``NotFound`` for a ``rule_id`` that never had any
        (every rule written has at least its creation's row)."""
        table = self.tables.audit
        query = sa.select(table).order_by(table.c.seq.desc()).limit(limit)
        if rule_id is not None:
            query = query.where(table.c.rule_id == rule_id)
        with self.engine.connect() as conn:
            rows = [dict(row._mapping) for row in conn.execute(query)]
        if rule_id is not None and not rows:
            raise NotFound(f"rule {rule_id!r} has never existed: GET /rules lists those that do")
        for row in rows:  # SQLite gives back naive times: they were written in UTC
            if row["at"].tzinfo is None:
                row["at"] = row["at"].replace(tzinfo=dt.UTC)
        return [AuditEntry.model_validate(row) for row in rows]

    def drop_tables(self) -> None:
        """Drop both tables (tests)."""
        self.tables.metadata.drop_all(self.engine)

    def _load(self, conn: sa.Connection, known: Stored | None) -> Stored:
        version = self.version(conn)
        if known is not None and known.version == version:
            return known
        table = self.tables.rules
        rows = conn.execute(sa.select(table.c.rule).order_by(table.c.id))
        return Stored(version, [Rule.model_validate(row[0]) for row in rows])

    def _change(
        self,
        puts: Sequence[RuleSpec],
        deletes: list[str] | None,
        actor: str,
        action: str,
        check: Check,
        known: Stored | None,
        must_exist: bool | None = None,
    ) -> Change:
        """Write ``puts`` and delete ``deletes`` (None: every rule not in ``puts``) in one
        transaction, after ``check(puts, the set after)`` passed."""
        table = self.tables.rules
        now = dt.datetime.now(dt.UTC)
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":  # one writer at a time: checks see the last set
                conn.execute(sa.text(f"LOCK TABLE {table.name} IN EXCLUSIVE MODE"))
            stored = {rule.id: rule for rule in self._load(conn, known).rules}
            for spec in puts:
                if must_exist is False and spec.id in stored:
                    raise Conflict(
                        f"rule {spec.id!r} already exists: PUT /rules/{spec.id} changes it",
                        cli_message=f"rule {spec.id!r} already exists: `shelf rules add "
                        f"{spec.id} --replace ...` replaces it",
                    )
                if must_exist is True and spec.id not in stored:
                    raise _not_found(spec.id)
            for rule_id in deletes or []:
                if rule_id not in stored:
                    raise _not_found(rule_id)
            put_ids = {spec.id for spec in puts}
            gone = [i for i in stored if i not in put_ids] if deletes is None else deletes
            new = [  # already validated: built without validating again
                Rule.model_construct(
                    **{name: getattr(spec, name) for name in RuleSpec.model_fields},
                    created_at=stored[spec.id].created_at if spec.id in stored else now,
                    updated_at=now,
                )
                for spec in puts
            ]
            kept = [r for i, r in stored.items() if i not in put_ids and i not in gone]
            after = sorted(kept + new, key=lambda rule: rule.id)
            check(puts, after)
            audit: list[dict[str, Any]] = []
            if gone:
                conn.execute(
                    table.delete().where(table.c.id.in_(sa.bindparam("ids", expanding=True))),
                    {"ids": gone},
                )
                audit += [_audit(i, action if action == "import" else "delete", actor, now,
                                 stored[i], None) for i in gone]  # fmt: skip
            dumped = {r.id: r.model_dump(mode="json") for r in new}
            inserts = [_row(r, dumped[r.id]) for r in new if r.id not in stored]
            updates = [_row(r, dumped[r.id]) | {"key": r.id} for r in new if r.id in stored]
            if inserts:
                conn.execute(table.insert(), inserts)
            if updates:
                conn.execute(
                    table.update().where(table.c.id == sa.bindparam("key")),
                    [{"rule": u["rule"], "updated_at": u["updated_at"], "key": u["key"]}
                     for u in updates],
                )  # fmt: skip
            audit += [_audit(r.id, action, actor, now, stored.get(r.id), dumped[r.id]) for r in new]
            if audit:
                conn.execute(self.tables.audit.insert(), audit)
            version = self.version(conn)
        written = new if puts else [stored[i] for i in gone]
        return Change(written, Stored(version, after))


def _row(rule: Rule, dumped: dict[str, Any]) -> dict[str, Any]:
    return {"id": rule.id, "rule": dumped, "updated_at": rule.updated_at}


def _audit(
    rule_id: str,
    action: str,
    actor: str,
    at: dt.datetime,
    before: Rule | None,
    after: dict[str, Any] | None,
) -> dict[str, Any]:
    return {
        "rule_id": rule_id,
        "action": action,
        "actor": actor,
        "at": at,
        "before": None if before is None else before.model_dump(mode="json"),
        "after": after,
    }


def _not_found(rule_id: str) -> NotFound:
    return NotFound(
        f"rule {rule_id!r} does not exist: GET /rules lists those that do",
        cli_message=f"rule {rule_id!r} does not exist: `shelf rules list` lists those that do",
    )
