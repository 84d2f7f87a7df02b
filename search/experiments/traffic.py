"""Simulated shoppers with a known truth: the pure, seeded half of ``shelf experiments simulate``.

Every random draw a shopper will need is made up front from the seed (per user, per search), so
what a search leads to depends only on the seed and on the variant the server served it, never
on thread timing or on which variant another user got. Clicks follow the true CTR of the variant
served (at most one click per search, so the true CTR is exactly the share of searches with a
click), click positions lean to the top (P(k) proportional to 1/k over the items shown), and a
click converts (add-to-cart, then purchase) with the true conversion probability.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from search.events.aggregates import UnitTally
from search.events.definitions import Experiment
from search.events.log import unit_of
from search.experiments.assignment import variant_for

SHOWN = 10  # items a simulated search shows when the answer is not known (the pure path)


@dataclass(frozen=True)
class Truth:
    """What the simulated shoppers really do, per variant."""

    ctr: Mapping[str, float]  # P(a search gets a click), by the variant served
    conversion: float = 0.2  # P(a purchase | a click)
    lose: Mapping[str, float] = field(default_factory=dict)  # share of a variant's users lost

    def conversion_rate(self, variant: str) -> float:
        """P(a search ends in a purchase) in ``variant``."""
        return self.ctr[variant] * self.conversion


@dataclass(frozen=True)
class PlannedSearch:
    """One search a shopper will make, with the draws that decide what follows it."""

    index: int  # the user's n-th search
    query: str
    locale: str
    click_draw: float  # a click when below the served variant's true CTR
    position_draw: float  # which shown item is clicked
    purchase_draw: float  # a purchase when below the true conversion
    value: float  # the purchase's value (USD)


@dataclass(frozen=True)
class SimulatedUser:
    """A shopper and the searches they will make."""

    user_id: str
    lose_draw: float  # the user's traffic is lost when below their variant's lose share
    searches: tuple[PlannedSearch, ...]

    def variant_in(self, experiment: Experiment) -> str | None:
        """The variant the server's hash gives this user (None: outside the traffic share)."""
        return variant_for(experiment, str(unit_of(self.user_id, None)))


@dataclass(frozen=True)
class SimulatedEvent:
    """An action a simulated shopper takes on one shown item."""

    type: str  # click | add_to_cart | purchase
    position: int
    value: float | None = None


def generate_users(
    n_users: int,
    searches_per_user: float,
    queries: Sequence[tuple[str, str]],
    *,
    seed: int,
) -> Iterator[SimulatedUser]:
    """``n_users`` shoppers, each with 1 to 2*``searches_per_user``-1 searches (that mean) of
    ``queries`` (text, locale); the same seed gives the same shoppers."""
    rng = random.Random(seed)
    most = max(1, round(2 * searches_per_user - 1))
    for i in range(n_users):
        searches = tuple(
            PlannedSearch(
                index=n,
                query=(chosen := rng.choice(queries))[0],
                locale=chosen[1],
                click_draw=rng.random(),
                position_draw=rng.random(),
                purchase_draw=rng.random(),
                value=round(rng.lognormvariate(3.3, 0.6), 2),  # median about 27
            )
            for n in range(rng.randint(1, most))
        )
        yield SimulatedUser(f"sim-u{i:07d}", rng.random(), searches)


def click_position(draw: float, shown: int) -> int:
    """The 1-based position clicked for a uniform ``draw``: P(k) proportional to 1/k, k <= shown."""
    weights = [1 / k for k in range(1, shown + 1)]
    point = draw * sum(weights)
    for k, weight in enumerate(weights, start=1):
        point -= weight
        if point < 0:
            return k
    return shown


def outcome(search: PlannedSearch, variant: str, shown: int, truth: Truth) -> list[SimulatedEvent]:
    """What the shopper does with an answer showing ``shown`` items in ``variant``."""
    if shown == 0 or search.click_draw >= truth.ctr[variant]:
        return []
    position = click_position(search.position_draw, shown)
    events = [SimulatedEvent("click", position)]
    if search.purchase_draw < truth.conversion:
        events += [
            SimulatedEvent("add_to_cart", position),
            SimulatedEvent("purchase", position, search.value),
        ]
    return events


def is_lost(user: SimulatedUser, variant: str | None, truth: Truth) -> bool:
    """Whether this user's traffic never reaches the server (a broken tracking arm)."""
    return variant is not None and user.lose_draw < truth.lose.get(variant, 0.0)


def unit_tallies(
    experiment: Experiment, users: Iterable[SimulatedUser], truth: Truth, *, shown: int = SHOWN
) -> Iterator[UnitTally]:
    """Each kept user's totals, as the report would count them, without any server (the
    variant from the same hashed assignment the server uses)."""
    for user in users:
        variant = user.variant_in(experiment)
        if variant is None or is_lost(user, variant, truth):
            continue
        yield tally_of(variant, [outcome(s, variant, shown, truth) for s in user.searches])


def tally_of(variant: str, per_search: Sequence[Sequence[SimulatedEvent]]) -> UnitTally:
    """One unit's totals from the events of each of its searches."""
    totals: dict[str, Any] = dict.fromkeys(
        ("clicked_searches", "clicks", "converted_searches", "purchases", "add_to_carts"), 0
    )
    revenue = reciprocal_rank = 0.0
    for events in per_search:
        clicks = [e.position for e in events if e.type == "click"]
        purchases = [e for e in events if e.type == "purchase"]
        totals["clicked_searches"] += bool(clicks)
        totals["clicks"] += len(clicks)
        totals["converted_searches"] += bool(purchases)
        totals["purchases"] += len(purchases)
        totals["add_to_carts"] += sum(e.type == "add_to_cart" for e in events)
        revenue += sum(e.value or 0.0 for e in purchases)
        reciprocal_rank += 1 / min(clicks) if clicks else 0.0
    return UnitTally(
        variant=variant,
        searches=len(per_search),
        revenue=revenue,
        reciprocal_rank=reciprocal_rank,
        **totals,
    )


def sampled_tallies(
    variant: str,
    n_users: int,
    truth: Truth,
    rng: np.random.Generator,
    *,
    searches_per_user: float = 4,
    propensity_spread: float = 0.0,
) -> list[UnitTally]:
    """``n_users`` unit tallies drawn straight from the shoppers' model, without searches or a
    server (fast enough for thousands of simulated experiments): searches per user uniform on
    1..2*``searches_per_user``-1, as ``generate_users``; each search clicked with the variant's
    true CTR times the user's propensity (uniform on 1 ± ``propensity_spread``, mean 1: users
    differ, so their searches are not independent), a click converting with the true conversion,
    purchase values lognormal as ``generate_users`` draws them."""
    most = max(1, round(2 * searches_per_user - 1))
    searches = rng.integers(1, most + 1, size=n_users)
    propensity = rng.uniform(1 - propensity_spread, 1 + propensity_spread, size=n_users)
    ctr = np.clip(truth.ctr[variant] * propensity, 0.0, 1.0)
    clicked = rng.binomial(searches, ctr)
    converted = rng.binomial(clicked, truth.conversion)
    revenue = [
        float(rng.lognormal(3.3, 0.6, size=k).round(2).sum()) if k else 0.0 for k in converted
    ]
    return [
        UnitTally(variant, int(y), int(c), int(c), int(p), int(p), r, 0.0, int(p))
        for y, c, p, r in zip(
            searches.tolist(), clicked.tolist(), converted.tolist(), revenue, strict=True
        )  # fmt: skip
    ]


# ---- position bias: shoppers who see a ranking, with known true relevance -----------------


def examination(position: int, eta: float = 1.0) -> float:
    """P(a shopper looks at the result at 1-based ``position``) in the position-based model:
    (1/position)^eta (Joachims et al., "Unbiased Learning-to-Rank with Biased Feedback", WSDM
    2017, §6). A result is clicked when examined and attractive, independently."""
    return float(position) ** -eta


@dataclass(frozen=True)
class JudgedSearch:
    """One search of position-biased traffic: what it showed, in order, and what was clicked."""

    query: str
    locale: str
    product_ids: tuple[str, ...]
    clicked: tuple[str, ...]


def position_biased_traffic(
    n_queries: int,
    products_per_query: int,
    searches_per_query: int,
    *,
    seed: int,
    ranker_error: float = 0.4,
    ranker_noise: float = 0.15,
    eta: float = 1.0,
) -> tuple[dict[tuple[str, str], float], list[JudgedSearch]]:
    """Traffic whose true relevance is known: (true attractiveness per (query, product), the
    searches). Each query has products with attractiveness uniform on [0.02, 0.6] (P(click |
    examined)); the ranker shows them ordered by attractiveness plus a fixed per-product error
    (sd ``ranker_error``: it misranks some products in every search) plus per-search noise (sd
    ``ranker_noise``: positions vary); a shopper examines position k with ``examination``."""
    rng = np.random.default_rng(seed)
    truth: dict[tuple[str, str], float] = {}
    searches: list[JudgedSearch] = []
    seen = np.array([examination(k, eta) for k in range(1, products_per_query + 1)])
    for q in range(n_queries):
        query = f"query {q}"
        products = [f"p{q:03d}-{d:02d}" for d in range(products_per_query)]
        attractive = rng.uniform(0.02, 0.6, products_per_query)
        truth.update({(query, p): float(a) for p, a in zip(products, attractive, strict=True)})
        error = rng.normal(0, ranker_error, products_per_query)
        for _ in range(searches_per_query):
            score = attractive + error + rng.normal(0, ranker_noise, products_per_query)
            order = np.argsort(-score, kind="stable")
            clicks = rng.random(products_per_query) < seen * attractive[order]
            shown = tuple(products[i] for i in order)
            clicked = tuple(p for p, c in zip(shown, clicks, strict=True) if c)
            searches.append(JudgedSearch(query, "en-US", shown, clicked))
    return truth, searches
