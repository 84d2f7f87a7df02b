"""The rules a process manages and serves: the store's changes, each checked against the index
and the other rules, and the snapshot searches read (``Refreshed[RuleSet]``), reloaded every
``SHELF_RULES_REFRESH_S`` seconds and at once after a change made here.

Also the import format: JSON Lines, one rule (``RuleSpec``) per line, or one JSON array of rules;
``shelf rules export`` writes JSON Lines. Every bad line is reported with its number.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError

from catalog.product import describe_validation_error
from search.errors import InvalidQuery
from search.events.refreshed import Freshness, LastGood, LocalCopy, Refreshed
from search.merchandising.apply import RuleSet
from search.merchandising.checks import check_change
from search.merchandising.model import Rule, RuleSpec
from search.merchandising.store import AuditEntry, Change, Check, RuleStore, Stored
from search.recall import ProductIndex


class RuleBook:
    """A ``RuleStore`` with its checks (``SHELF_RULES_MAX``, products in ``recall``, pins that
    collide) and the served snapshot. A reload reads the store's version first and the rules
    only when it moved; a change made here serves the set it wrote without reading it back."""

    def __init__(
        self,
        engine: sa.Engine,
        recall: ProductIndex | None,
        *,
        table_prefix: str,
        max_rules: int,
        refresh_s: float = 5.0,
        last_good: LastGood | None = None,
    ) -> None:
        self.store = RuleStore(engine, table_prefix=table_prefix)
        self.recall = recall
        self.max_rules = max_rules
        self._known: Stored | None = None
        self._lock = threading.Lock()
        copy = None if last_good is None else rules_copy(last_good)
        self.snapshot: Refreshed[RuleSet] = Refreshed(
            self._reload, RuleSet(), refresh_s=refresh_s, name="rules", copy=copy
        )

    def current(self) -> RuleSet:
        """The rules searches apply now (no store access)."""
        return self.snapshot.get()

    def freshness(self) -> Freshness:
        """Whether the rules served may be stale (the store could not be read), and their age."""
        return self.snapshot.freshness()

    def rules(self) -> list[Rule]:
        """Every stored rule, by id."""
        return self._remember(self.store.load(self._known)).rules

    def rule(self, rule_id: str) -> Rule:
        """One stored rule (``NotFound``)."""
        return self.store.rule(rule_id)

    def create(self, spec: RuleSpec, actor: str) -> Rule:
        """Store a new rule after its checks (409 id taken or pins collide, 422 otherwise)."""
        return self._served(self.store.create(spec, actor, self._check(), self._known))[0]

    def update(self, spec: RuleSpec, actor: str) -> Rule:
        """Replace a rule after its checks."""
        return self._served(self.store.update(spec, actor, self._check(), self._known))[0]

    def delete(self, rule_id: str, actor: str) -> Rule:
        """Delete a rule; returns it as it was."""
        return self._served(self.store.delete(rule_id, actor, self._known))[0]

    def import_rules(
        self,
        specs: Sequence[RuleSpec],
        actor: str,
        *,
        replace: bool = False,
        where: dict[str, str] | None = None,
    ) -> list[Rule]:
        """Create or replace every rule of ``specs`` (``replace``: and delete the others) in one
        transaction, or nothing. ``where`` names each rule's place (``line 4``) in errors."""
        change = self.store.import_rules(
            specs, actor, self._check(where), self._known, replace=replace
        )
        return self._served(change)

    def audit(self, rule_id: str | None = None, limit: int = 100) -> list[AuditEntry]:
        """The latest changes, newest first."""
        return self.store.audit(rule_id, limit)

    def start(self) -> None:
        """Load the snapshot and keep reloading it in the background."""
        self.snapshot.start()

    def close(self) -> None:
        """Stop reloading."""
        self.snapshot.close()

    def _remember(self, stored: Stored) -> Stored:
        with self._lock:
            if self._known is None or stored.version >= self._known.version:
                self._known = stored
        return stored

    def _reload(self) -> RuleSet:
        known = self._known
        stored = self._remember(self.store.load(known))
        current = self.snapshot.get()
        return (
            current if current.version == stored.version else RuleSet(stored.rules, stored.version)
        )

    def _served(self, change: Change) -> list[Rule]:
        self._remember(change.after)
        self.snapshot.refresh()  # the version just written: no read of the rules
        return change.rules

    def _check(self, where: dict[str, str] | None = None) -> Check:
        def check(incoming: Sequence[RuleSpec], after: Sequence[RuleSpec]) -> None:
            check_change(incoming, after, self.recall, max_rules=self.max_rules, where=where)

        return check


def rules_copy(last_good: LastGood) -> LocalCopy[RuleSet]:
    """Where the served rules' last good copy is kept (JSON: the store's version, the rules)."""
    return last_good.copy("rules", _rules_json, _rules_of_json)


def _rules_json(rules: RuleSet) -> dict[str, Any]:
    return {"version": rules.version, "rules": [r.model_dump(mode="json") for r in rules.rules]}


def _rules_of_json(data: dict[str, Any]) -> RuleSet:
    return RuleSet([Rule.model_validate(r) for r in data["rules"]], int(data["version"]))


def parse_rules(text: str, source: str = "import") -> tuple[list[RuleSpec], dict[str, str]]:
    """The rules of an import (JSON Lines, or one JSON array), and each rule's place (``line
    N`` / ``rules[N]``). ``InvalidQuery`` listing every bad line or entry, with its reason:
    not JSON, not a rule, an id given twice."""
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            entries = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise InvalidQuery(f"{source}: not valid JSON ({exc})") from None
        located = [(f"rules[{i}]", entry) for i, entry in enumerate(entries)]
    else:
        located = []
        problems = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                located.append((f"line {number}", json.loads(line)))
            except json.JSONDecodeError as exc:
                problems.append(f"line {number}: not valid JSON ({exc.msg})")
        if problems:
            raise InvalidQuery(f"{source}: " + "; ".join(problems[:20]) + ". Nothing was changed")
    return validate_entries(located, source)


def validate_entries(
    located: Sequence[tuple[str, object]], source: str = "import"
) -> tuple[list[RuleSpec], dict[str, str]]:
    """``(place, JSON value)`` pairs as rules; ``InvalidQuery`` naming every bad place."""
    specs: list[RuleSpec] = []
    where: dict[str, str] = {}
    problems: list[str] = []
    for place, entry in located:
        try:
            spec = RuleSpec.model_validate(entry)
        except ValidationError as exc:
            problems.append(f"{place}: {describe_validation_error(exc)}")
            continue
        if spec.id in where:
            problems.append(f"{place}: rule id {spec.id!r} is also at {where[spec.id]}")
            continue
        where[spec.id] = place
        specs.append(spec)
    if problems:
        more = f" (and {len(problems) - 20} more)" if len(problems) > 20 else ""
        raise InvalidQuery(
            f"{source}: " + "; ".join(problems[:20]) + more + ". Nothing was changed"
        )
    if not specs:
        raise InvalidQuery(f"{source}: holds no rule")
    return specs, where
