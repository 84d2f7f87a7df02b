"""Which rules a search meets, and what they ask of it (``RuleSet.plan``): the pins, hides and
boosts the result set applies after reranking (``search.results.result_set``).

Rules are matched on the snapshot a server holds (``Refreshed[RuleSet]``), with the time taken at
search time, so a rule stops applying at its ``end`` even between two refreshes. When rules
disagree, the first by id wins, deterministically: a position or a product already pinned by an
earlier rule is not pinned again, and a hide beats any pin of the same product (the stores
refuse colliding pins; this only settles rules written by two processes at once).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from search.merchandising.model import Rule, query_words


@dataclass(frozen=True)
class BoostAction:
    """Multiply the score of products whose ``field`` (brand key, or category path) holds
    ``value`` by ``factor``; ``rule_id`` asked for it."""

    field: str
    value: str
    factor: float
    rule_id: str


@dataclass(frozen=True)
class Merchandising:
    """What the rules a search meets ask of it. ``pins``: (position, product id, rule id) by
    position; ``hidden``: product id -> rule id; ``rules``: the ids of the rules met."""

    pins: tuple[tuple[int, str, str], ...] = ()
    hidden: dict[str, str] = field(default_factory=dict)
    boosts: tuple[BoostAction, ...] = ()
    rules: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.pins or self.hidden or self.boosts)

    def boost_of(self, brand: str, categories: Sequence[str]) -> tuple[float, str | None]:
        """The product factor of every boost that applies to a product of ``brand`` (its brand
        key) in ``categories`` (its category and ancestors), and the first such rule's id."""
        factor, first = 1.0, None
        for boost in self.boosts:
            held = brand == boost.value if boost.field == "brand" else boost.value in categories
            if held:
                factor *= boost.factor
                first = first or boost.rule_id
        return factor, first


NOTHING = Merchandising()


class RuleSet:
    """A snapshot of the stored rules, indexed for matching: both kinds by their words, so a
    query costs one lookup for ``equals`` and one per contiguous run of its words (up to the
    longest ``contains`` phrase) for ``contains``, however many rules there are."""

    def __init__(self, rules: Iterable[Rule] = (), version: int = -1) -> None:
        self.version = version  # the store's version it was read at (-1: none)
        self.rules = sorted(rules, key=lambda rule: rule.id)
        self._equals: dict[tuple[str, ...], list[Rule]] = defaultdict(list)
        self._contains: dict[tuple[str, ...], list[Rule]] = defaultdict(list)
        for rule in self.rules:
            words = rule.condition.words
            if rule.condition.match == "equals":
                self._equals[words].append(rule)
            else:
                self._contains[words].append(rule)
        self._longest = max((len(words) for words in self._contains), default=0)

    def __len__(self) -> int:
        return len(self.rules)

    def matching(self, query: str, languages: Iterable[str], now: dt.datetime) -> list[Rule]:
        """The rules in force at ``now`` whose condition ``query`` meets, by id. A rule of one
        language applies only when ``languages`` (those the query is known to be in:
        ``search.query.languages.known_languages``) holds it."""
        words = query_words(query)
        langs = set(languages)
        found = {rule.id: rule for rule in self._equals.get(words, ())}
        if self._contains:
            for i in range(len(words)):
                for j in range(i + 1, min(len(words), i + self._longest) + 1):
                    for rule in self._contains.get(words[i:j], ()):
                        found[rule.id] = rule
        return [
            rule
            for rule_id, rule in sorted(found.items())
            if rule.active(now)
            and (rule.condition.language is None or rule.condition.language in langs)
        ]

    def plan(self, query: str, languages: Iterable[str], now: dt.datetime) -> Merchandising:
        """What the rules ``query`` meets at ``now`` ask of its search (see the module doc)."""
        met = self.matching(query, languages, now)
        if not met:
            return NOTHING
        hidden: dict[str, str] = {}
        for rule in met:
            for product_id in rule.actions.hide:
                hidden.setdefault(product_id, rule.id)
        pins: dict[int, tuple[str, str]] = {}
        pinned: set[str] = set()
        for rule in met:
            for pin in rule.actions.pins:
                if pin.position in pins or pin.product_id in pinned or pin.product_id in hidden:
                    continue
                pins[pin.position] = (pin.product_id, rule.id)
                pinned.add(pin.product_id)
        boosts = tuple(
            BoostAction(boost.field, boost.value, boost.factor, rule.id)
            for rule in met
            for boost in rule.actions.boosts
        )
        return Merchandising(
            pins=tuple((position, *pins[position]) for position in sorted(pins)),
            hidden=hidden,
            boosts=boosts,
            rules=tuple(rule.id for rule in met),
        )


def effective_pins(
    pins: Sequence[tuple[int, str, str]], organic_total: int
) -> list[tuple[int, str, str]]:
    """``pins`` (by position) with each position pulled in so the answer has no gap: the j-th
    pin (1-based) sits at ``min(position, organic_total + j)``. Strictly increasing, like the
    positions and ``organic_total + j`` both are."""
    return [
        (min(position, organic_total + j), product_id, rule_id)
        for j, (position, product_id, rule_id) in enumerate(pins, start=1)
    ]
