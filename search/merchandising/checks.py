"""The checks a rule change must pass against other rules and the catalog, before anything is
written: pins that collide between rules, product ids the index does not hold, the store's size.

Collisions: two enabled rules whose conditions one query can satisfy (``may_match_together``)
and whose time windows overlap may not pin different products at the same position. That is
decided exactly for equals/equals and equals/contains; two ``contains`` rules always can match
together (a query holding both phrases). A product pinned by one rule and hidden by another is
allowed: at search time the hide wins (see ``search.merchandising.apply``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence

from search.errors import Conflict, InvalidQuery
from search.merchandising.model import RuleSpec, may_match_together, windows_overlap
from search.recall import ProductIndex

Entry = tuple[RuleSpec, str]  # a rule and the product it pins at one position


def pin_collisions(rules: Sequence[RuleSpec], changed: Iterable[str]) -> dict[str, str]:
    """For each rule id in ``changed`` that collides with another rule of ``rules`` (the whole
    set after the change), one message naming the other rule, the position and both products."""
    changed_ids = set(changed)
    by_position: dict[int, list[Entry]] = defaultdict(list)
    for rule in rules:
        if rule.enabled:
            for pin in rule.actions.pins:
                by_position[pin.position].append((rule, pin.product_id))
    found: dict[str, str] = {}

    def collide(a: Entry, b: Entry, position: int) -> None:
        (ra, pa), (rb, pb) = a, b
        if ra.id == rb.id or pa == pb or not windows_overlap(ra, rb):
            return
        if not may_match_together(ra.condition, rb.condition):
            return
        for mine, other, theirs, product in ((ra, rb, pb, pa), (rb, ra, pa, pb)):
            if mine.id in changed_ids and mine.id not in found:
                found[mine.id] = (
                    f"pins {product!r} at position {position}, where rule {other.id!r} pins "
                    f"{theirs!r} for queries both match"
                )

    for position, entries in by_position.items():
        equals: dict[tuple[str, ...], list[Entry]] = defaultdict(list)
        contains: dict[tuple[str, ...], list[Entry]] = defaultdict(list)
        for entry in entries:
            target = equals if entry[0].condition.match == "equals" else contains
            target[entry[0].condition.words].append(entry)
        for group in equals.values():  # equals/equals: the same words
            _pairs(group, group, position, collide)
        for words, group in equals.items():  # equals/contains: a contiguous run of its words
            runs = {words[i:j] for i in range(len(words)) for j in range(i + 1, len(words) + 1)}
            for run in runs & contains.keys():
                _pairs(group, contains[run], position, collide)
        every = [entry for group in contains.values() for entry in group]
        if len({product for _, product in every}) > 1:  # contains/contains: always together
            _pairs(every, every, position, collide)
    return found


def _pairs(
    left: list[Entry],
    right: list[Entry],
    position: int,
    collide: Callable[[Entry, Entry, int], None],
) -> None:
    for a in left:
        for b in right:
            collide(a, b, position)


def unknown_products(rules: Sequence[RuleSpec], recall: ProductIndex) -> dict[str, list[str]]:
    """For each rule naming product ids the index does not hold, those ids (sorted). One
    ``ProductIndex.products`` call per 1,000 distinct ids."""
    wanted = sorted({pid for rule in rules for pid in rule.actions.product_ids()})
    known: set[str] = set()
    for i in range(0, len(wanted), 1000):
        known |= set(recall.products(wanted[i : i + 1000]))
    missing: dict[str, list[str]] = {}
    for rule in rules:
        absent = sorted({pid for pid in rule.actions.product_ids() if pid not in known})
        if absent:
            missing[rule.id] = absent
    return missing


def check_change(
    incoming: Sequence[RuleSpec],
    after: Sequence[RuleSpec],
    recall: ProductIndex | None,
    *,
    max_rules: int,
    where: dict[str, str] | None = None,
) -> None:
    """Raise listing every problem of ``incoming`` (the rules created or changed) in ``after``
    (the whole set once changed): more than ``max_rules`` rules (``SHELF_RULES_MAX``) or unknown
    product ids (when ``recall`` is given): ``InvalidQuery`` (422); only pins that collide
    with other rules: ``Conflict`` (409).
    ``where`` names each rule's place in the request (``rules[3]``, ``line 4``)."""
    if len(after) > max_rules:
        raise InvalidQuery(
            f"the store would hold {len(after)} rules; at most {max_rules} (SHELF_RULES_MAX). "
            "Nothing was changed"
        )
    place = where or {}
    problems: list[str] = []
    if recall is not None:
        for rule_id, ids in unknown_products(incoming, recall).items():
            shown = ", ".join(repr(i) for i in ids[:10]) + (" ..." if len(ids) > 10 else "")
            problems.append(f"{place.get(rule_id, 'rule')} {rule_id!r}: unknown product ids "
                            f"{shown} (not in the index)")  # fmt: skip
    unknown = bool(problems)
    for rule_id, why in pin_collisions(after, [r.id for r in incoming]).items():
        problems.append(f"{place.get(rule_id, 'rule')} {rule_id!r}: {why}")
    if problems:
        more = f" (and {len(problems) - 20} more)" if len(problems) > 20 else ""
        message = "; ".join(problems[:20]) + more + ". Nothing was changed"
        raise InvalidQuery(message) if unknown else Conflict(message)
