"""Simulated shoppers who click by a known true relevance: the pure, seeded half of the
learning loop (``bench/learning_loop.py``; the driver is ``search.experiments.shopping``).

A shopper examines the result at position k with the position-based model's probability
(``search.experiments.traffic.examination``) and, once examined, clicks it with the
attraction of its true grade (``GRADE_ATTRACTION``), independently per result: P(click at k) =
examination(k) x attraction(grade). The truth is graded judgments (the sample judgments:
products not judged are grade 0). A click converts with ``conversion`` x grade / 3.

Every draw is made up front from the seed (per shopper, per search, per position) and every
search has its simulated time, so what a search leads to depends only on the seed and on what
the server showed, never on timing.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from search.experiments.traffic import SimulatedEvent, examination

SHOWN = 10  # results a simulated search asks for and looks through
# P(click | examined) by true grade 0-3: rarely an irrelevant product, most often a perfect one.
GRADE_ATTRACTION: tuple[float, float, float, float] = (0.02, 0.15, 0.40, 0.80)


@dataclass(frozen=True)
class ShopperQuery:
    """A query shoppers send: its id in the truth, its text and the shopper's locale."""

    query_id: str
    text: str
    locale: str


@dataclass(frozen=True)
class RelevanceTruth:
    """What shoppers really want: each query's graded products (0-3; unjudged: 0), how
    attractive each grade is once seen, the examination exponent and P(purchase | click on a
    grade-3 product)."""

    grades: Mapping[str, Mapping[str, int]]
    attraction: tuple[float, ...] = GRADE_ATTRACTION
    eta: float = 1.0
    conversion: float = 0.2

    def grade(self, query_id: str, product_id: str) -> int:
        """The true grade of ``product_id`` for ``query_id`` (0 when not judged)."""
        return self.grades.get(query_id, {}).get(product_id, 0)

    def click_probability(self, query_id: str, product_id: str, position: int) -> float:
        """P(click) of ``product_id`` shown at 1-based ``position``: examination x attraction."""
        return examination(position, self.eta) * self.attraction[self.grade(query_id, product_id)]


@dataclass(frozen=True)
class ShopperSearch:
    """One search a shopper will make, when, and the draws that decide what follows it."""

    index: int  # the shopper's n-th search
    query: ShopperQuery
    at: dt.datetime
    click_draws: tuple[float, ...]  # one per position: clicked when below its P(click)
    purchase_draws: tuple[float, ...]  # one per position: a clicked product bought when below
    value: float  # a purchase's value (USD)


@dataclass(frozen=True)
class Shopper:
    """A shopper and the searches they will make."""

    user_id: str
    searches: tuple[ShopperSearch, ...] = field(default_factory=tuple)


def plan_shoppers(
    queries: Sequence[ShopperQuery],
    n_users: int,
    searches_per_user: float,
    *,
    start: dt.datetime,
    days: float,
    seed: int,
    prefix: str = "shopper",
) -> list[Shopper]:
    """``n_users`` shoppers, each with 1 to 2*``searches_per_user``-1 searches (that mean) of
    ``queries``, the first at a uniform time in [start, start + days), the next a few minutes
    apart; the same seed gives the same shoppers."""
    rng = random.Random(seed)
    most = max(1, round(2 * searches_per_user - 1))
    span_s = days * 86_400
    shoppers = []
    for i in range(n_users):
        at = start + dt.timedelta(seconds=rng.uniform(0, span_s))
        searches = []
        for n in range(rng.randint(1, most)):
            searches.append(
                ShopperSearch(
                    index=n,
                    query=rng.choice(queries),
                    at=at,
                    click_draws=tuple(rng.random() for _ in range(SHOWN)),
                    purchase_draws=tuple(rng.random() for _ in range(SHOWN)),
                    value=round(rng.lognormvariate(3.3, 0.6), 2),
                )
            )
            at += dt.timedelta(seconds=rng.uniform(30, 600))
        shoppers.append(Shopper(f"{prefix}-{i:06d}", tuple(searches)))
    return shoppers


def searches_in_time_order(shoppers: Sequence[Shopper]) -> list[tuple[Shopper, ShopperSearch]]:
    """Every search of ``shoppers`` by its time (ties by user id and index)."""
    pairs = [(shopper, search) for shopper in shoppers for search in shopper.searches]
    return sorted(pairs, key=lambda p: (p[1].at, p[0].user_id, p[1].index))


def shopper_events(
    truth: RelevanceTruth, search: ShopperSearch, shown: Sequence[str]
) -> list[SimulatedEvent]:
    """What the shopper does with an answer showing the products ``shown`` in order: a click
    on each result whose draw falls below examination x attraction, and for some of those an
    add-to-cart and purchase."""
    events = []
    for position, product_id in enumerate(shown[: len(search.click_draws)], start=1):
        i = position - 1
        if search.click_draws[i] >= truth.click_probability(
            search.query.query_id, product_id, position
        ):
            continue
        events.append(SimulatedEvent("click", position))
        bought = truth.conversion * truth.grade(search.query.query_id, product_id) / 3
        if search.purchase_draws[i] < bought:
            events += [
                SimulatedEvent("add_to_cart", position),
                SimulatedEvent("purchase", position, search.value),
            ]
    return events


def truth_from_judgments(
    judgments: Sequence[Mapping[str, object]], **options: object
) -> RelevanceTruth:
    """The truth from judgment records (``query_id``, ``product_id``, ``grade`` 0-3, as the
    sample judgments ship)."""
    grades: dict[str, dict[str, int]] = {}
    for record in judgments:
        grade = int(str(record["grade"]))
        grades.setdefault(str(record["query_id"]), {})[str(record["product_id"])] = grade
    return RelevanceTruth(grades, **options)  # type: ignore[arg-type]
