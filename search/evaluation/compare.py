"""Two configurations side by side: per-query differences and a paired significance test.

The test is the paired randomization (sign-flip) test that IR evaluation recommends (Smucker,
Allan and Carterette, CIKM 2007): under the null hypothesis that A and B are the same system,
each query's difference B - A is as likely to have either sign. The p-value is the share of
sign assignments whose mean difference is at least as far from zero as the observed one
(two-sided). Up to ``EXACT_MAX_QUERIES`` queries every assignment is enumerated; above that,
``SAMPLES`` assignments are drawn with a fixed seed, so the same runs always give the same p.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass

from search.evaluation.metrics import QueryEvaluation, RunEvaluation

EXACT_MAX_QUERIES = 12
SAMPLES = 10_000
SEED = 0
TEST_NAME = (
    f"paired randomization test (sign flip, two-sided; exact up to {EXACT_MAX_QUERIES} queries, "
    f"else {SAMPLES:,} samples, seed {SEED})"
)
TOLERANCE = 1e-12  # float noise must not turn an equal-sized difference into a smaller one


def randomization_p_value(
    differences: Sequence[float], *, samples: int = SAMPLES, seed: int = SEED
) -> float:
    """Two-sided p-value of the paired sign-flip test on per-query differences B - A."""
    n = len(differences)
    if n == 0:
        return 1.0
    observed = abs(sum(differences)) - TOLERANCE
    if observed <= 0:
        return 1.0
    if n <= EXACT_MAX_QUERIES:
        signs_all = itertools.product((1, -1), repeat=n)
        extreme = sum(
            abs(sum(s * d for s, d in zip(signs, differences, strict=True))) >= observed
            for signs in signs_all
        )
        return extreme / 2**n
    rng = random.Random(seed)
    extreme = 0
    for _ in range(samples):
        bits = rng.getrandbits(n)
        total = sum(-d if bits >> i & 1 else d for i, d in enumerate(differences))
        extreme += abs(total) >= observed
    # Counting the observed assignment itself keeps a sampled p-value from being 0.
    return (extreme + 1) / (samples + 1)


@dataclass(frozen=True)
class QueryDelta:
    """One query's score under A and B."""

    query_id: str
    language: str
    a: float
    b: float

    @property
    def delta(self) -> float:
        """B - A: positive when B ranks this query better."""
        return self.b - self.a


@dataclass(frozen=True)
class MetricComparison:
    """One metric over the queries both configurations scored."""

    metric: str
    mean_a: float
    mean_b: float
    p_value: float
    improved: int
    worsened: int
    unchanged: int
    deltas: list[QueryDelta]

    @property
    def delta(self) -> float:
        """Mean of B - A."""
        return self.mean_b - self.mean_a


def compare_metric(a: RunEvaluation, b: RunEvaluation, metric: str) -> MetricComparison:
    """Per-query differences of ``metric`` (B - A) and their paired randomization test."""
    by_id: dict[str, QueryEvaluation] = {q.query_id: q for q in a.queries}
    pairs = [(by_id[q.query_id], q) for q in b.queries if q.query_id in by_id]
    deltas = [
        QueryDelta(qa.query_id, qa.language, qa.scores[metric], qb.scores[metric])
        for qa, qb in pairs
    ]
    differences = [d.delta for d in deltas]
    n = len(deltas)
    return MetricComparison(
        metric=metric,
        mean_a=sum(d.a for d in deltas) / n if n else 0.0,
        mean_b=sum(d.b for d in deltas) / n if n else 0.0,
        p_value=randomization_p_value(differences),
        improved=sum(x > TOLERANCE for x in differences),
        worsened=sum(x < -TOLERANCE for x in differences),
        unchanged=sum(abs(x) <= TOLERANCE for x in differences),
        deltas=sorted(deltas, key=lambda d: (-d.delta, d.query_id)),
    )


def compare_runs(a: RunEvaluation, b: RunEvaluation) -> list[MetricComparison]:
    """Every metric the two evaluations share, compared query by query."""
    shared = [m for m in a.metrics if m in b.metrics]
    # Recall at each side's own K (R@50 against R@100) is the point of comparing recall sizes.
    extra_a = [m for m in a.metrics if m not in shared]
    extra_b = [m for m in b.metrics if m not in shared]
    comparisons = [compare_metric(a, b, m) for m in shared]
    if len(extra_a) == 1 and len(extra_b) == 1:
        comparisons.append(_cross_metric(a, b, extra_a[0], extra_b[0]))
    return comparisons


def _cross_metric(
    a: RunEvaluation, b: RunEvaluation, metric_a: str, metric_b: str
) -> MetricComparison:
    renamed = f"{metric_a} vs {metric_b}"
    a2 = _renamed(a, metric_a, renamed)
    b2 = _renamed(b, metric_b, renamed)
    return compare_metric(a2, b2, renamed)


def _renamed(evaluation: RunEvaluation, metric: str, name: str) -> RunEvaluation:
    queries = [
        QueryEvaluation(q.query_id, q.language, {name: q.scores[metric]}, q.judged, q.unjudged)
        for q in evaluation.queries
    ]
    return RunEvaluation(metrics=[name], queries=queries)
