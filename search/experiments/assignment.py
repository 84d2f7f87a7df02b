"""Which variant of the search a shopper is served.

Assignment hashes the experiment id with the shopper's unit (the user id, else the session id),
so it is the same in every process and after every restart, with nothing stored. Two separate
hashes decide "in the experiment?" and "which variant?": raising the traffic share adds users
without moving anyone already in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from search.events.definitions import Experiment, SearchOverrides
from search.events.log import unit_of

DEFAULT_VARIANT = "default"
_NO_OVERRIDES = SearchOverrides()


@dataclass(frozen=True)
class Assignment:
    """The variant a search is served, and what it changes."""

    experiment_id: str | None
    variant: str
    overrides: SearchOverrides = _NO_OVERRIDES


DEFAULT = Assignment(None, DEFAULT_VARIANT)


def bucket(*parts: str) -> float:
    """A uniform number in [0, 1) that depends only on ``parts`` (SHA-256, first 8 bytes)."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def variant_for(experiment: Experiment, unit: str) -> str | None:
    """The variant ``unit`` gets in ``experiment``; None when it is outside the traffic share."""
    if bucket(experiment.id, "traffic", unit) >= experiment.traffic:
        return None
    point = bucket(experiment.id, "variant", unit) * sum(v.weight for v in experiment.variants)
    for variant in experiment.variants:
        point -= variant.weight
        if point < 0:
            return variant.name
    return experiment.variants[-1].name  # float rounding at the very top


def assign(
    running: Sequence[Experiment], user_id: str | None, session_id: str | None
) -> Assignment:
    """The first running experiment (oldest first) that takes this shopper decides the search;
    shoppers no experiment takes, and anonymous ones, get the default."""
    unit = unit_of(user_id, session_id)
    if unit is None:
        return DEFAULT
    for experiment in running:
        name = variant_for(experiment, unit)
        if name is not None:
            return Assignment(experiment.id, name, experiment.variant(name).overrides)
    return DEFAULT
