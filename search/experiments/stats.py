"""The statistics of an experiment report: pure functions over per-unit tallies, no SQL.

Every metric is a ratio over searches (clicked searches / searches, revenue / searches, ...),
but the randomisation unit is the user (else the session): one user's searches are not
independent, so intervals and p-values come from the delta method over units (Deng et al.,
"Applying the Delta Method in Metric Analytics", 2018). Per variant with units i = 1..n,
numerators x_i and denominators y_i (searches), R = Σx / Σy and

    Var(R) ≈ Σ (x_i − R·y_i)² / (Σy)²

(the plug-in variance; with one search per unit it is the binomial p(1−p)/n exactly). Tallies
are streamed: a variant keeps n, Σy, Σy² and per metric Σx, Σx², Σxy, whatever the traffic.

The classic pooled two-proportion z-test at search level is reported beside the user-level
p-value for the rate metrics: it treats every search as independent, so it overstates
significance when users search many times (its p-value is then too small).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

from search.events.aggregates import UnitTally
from search.events.definitions import ExperimentSpec

# Metric name -> (tally field of its numerator, upper bound of its value or None); the order is
# that of the numerators in ``_VariantSums.add``.
METRICS: dict[str, tuple[str, float | None]] = {
    "ctr": ("clicked_searches", 1.0),
    "clicks_per_search": ("clicks", None),
    "conversion_rate": ("converted_searches", 1.0),
    "revenue_per_search": ("revenue", None),
    "mrr": ("reciprocal_rank", 1.0),
}
_INDEX = {name: i for i, name in enumerate(METRICS)}
# Rate metrics (one success per search at most) also get the search-level two-proportion test.
PROPORTIONS = ("ctr", "conversion_rate")


class _VariantSums:
    """Everything kept per variant: constant size, however many units stream past. Per metric
    (in ``METRICS`` order) Σx, Σx², Σxy of its numerator x over units, y being searches."""

    def __init__(self) -> None:
        self.units = 0
        self.y = self.yy = 0.0
        self.clicks = self.add_to_carts = self.purchases = 0
        self.revenue = 0.0
        self.x = [0.0] * len(METRICS)
        self.xx = [0.0] * len(METRICS)
        self.xy = [0.0] * len(METRICS)

    def add(self, tally: UnitTally) -> None:
        y = tally.searches
        self.units += 1
        self.y += y
        self.yy += y * y
        self.clicks += tally.clicks
        self.add_to_carts += tally.add_to_carts
        self.purchases += tally.purchases
        self.revenue += tally.revenue
        numerators = (
            tally.clicked_searches,
            tally.clicks,
            tally.converted_searches,
            tally.revenue,
            tally.reciprocal_rank,
        )
        sum_x, sum_xx, sum_xy = self.x, self.xx, self.xy
        for i, x in enumerate(numerators):  # the hot path of a report
            sum_x[i] += x
            sum_xx[i] += x * x
            sum_xy[i] += x * y

    def numerator(self, name: str) -> float:
        """Σx of one metric."""
        return self.x[_INDEX[name]]

    def ratio(self, name: str) -> tuple[float | None, float | None]:
        """(R, Var(R)) of one metric; None where undefined (no searches; fewer than 2 units)."""
        if self.y <= 0:
            return None, None
        i = _INDEX[name]
        value = self.x[i] / self.y
        if self.units < 2:
            return value, None
        residual = self.xx[i] - 2 * value * self.xy[i] + value * value * self.yy  # Σ(x − R·y)²
        return value, max(residual, 0.0) / (self.y * self.y)


def summarise(
    experiment: ExperimentSpec, tallies: Iterable[UnitTally], *, alpha: float = 0.05
) -> list[dict[str, Any]]:
    """Per variant (in the experiment's order, control included even without data): counts and
    each metric with its CI, lift over control, p-values. Tallies of unknown variants are
    ignored; each tally must be a different unit."""
    sums = {v.name: _VariantSums() for v in experiment.variants}
    for tally in tallies:
        if tally.variant in sums:
            sums[tally.variant].add(tally)
    z = NormalDist().inv_cdf(1 - alpha / 2)
    control = sums[str(experiment.control)]
    out = []
    for variant in experiment.variants:
        own = sums[variant.name]
        is_control = variant.name == experiment.control
        metrics = {
            name: _metric(name, own, None if is_control else control, z, alpha) for name in METRICS
        }
        out.append(
            {
                "variant": variant.name,
                "is_control": is_control,
                "impressions": int(own.y),
                "users": own.units,
                "clicks": own.clicks,
                "add_to_carts": own.add_to_carts,
                "purchases": own.purchases,
                "revenue": _finite(own.revenue),
                "metrics": metrics,
            }
        )
    return out


def _metric(
    name: str, own: _VariantSums, control: _VariantSums | None, z: float, alpha: float
) -> dict[str, Any]:
    value, variance = own.ratio(name)
    notes: list[str] = []
    ci_low = ci_high = None
    if value is None:
        notes.append("no searches")
    elif variance is None:
        notes.append("one unit: no interval")
    elif variance == 0:
        notes.append("no variation between units: no interval")
    else:
        upper = METRICS[name][1]
        half = z * math.sqrt(variance)
        ci_low = max(value - half, 0.0)
        ci_high = value + half if upper is None else min(value + half, upper)
    entry: dict[str, Any] = {
        "value": value,
        "ci_low": ci_low,
        "ci_high": ci_high,
        "lift": None,
        "lift_ci_low": None,
        "lift_ci_high": None,
        "p_value": None,
        "significant": False,
    }
    if control is not None and value is not None:
        _compare(entry, notes, value, variance, *control.ratio(name), z, alpha)
    if name in PROPORTIONS:
        entry["p_value_two_proportion"] = (
            None if control is None else _two_proportion(name, own, control)
        )
    entry["note"] = "; ".join(notes) or None
    return {key: _finite(v) if isinstance(v, float) else v for key, v in entry.items()}


def _compare(
    entry: dict[str, Any],
    notes: list[str],
    value: float,
    variance: float | None,
    control_value: float | None,
    control_variance: float | None,
    z: float,
    alpha: float,
) -> None:
    """Fill lift, its interval and the user-level p-value of one metric against control."""
    if control_value is None:
        notes.append("control has no searches: no comparison")
        return
    if variance is None or control_variance is None:
        notes.append("fewer than 2 units in a variant: no test")
    elif variance + control_variance > 0:
        diff_z = (value - control_value) / math.sqrt(variance + control_variance)
        entry["p_value"] = math.erfc(abs(diff_z) / math.sqrt(2))
        entry["significant"] = entry["p_value"] < alpha
    else:
        notes.append("no variation in either variant: no test")
    if control_value <= 0:
        notes.append("control value is 0: lift undefined")
        return
    ratio = value / control_value
    entry["lift"] = ratio - 1
    if variance is not None and control_variance is not None:
        # Delta method for R_t / R_c with independent variants.
        lift_variance = (variance + ratio * ratio * control_variance) / control_value**2
        if lift_variance > 0:
            half = z * math.sqrt(lift_variance)
            entry["lift_ci_low"] = max(entry["lift"] - half, -1.0)  # values are never < 0
            entry["lift_ci_high"] = entry["lift"] + half


def _two_proportion(name: str, own: _VariantSums, control: _VariantSums) -> float | None:
    """Pooled two-proportion z-test over searches, as if they were independent."""
    n1, n2 = own.y, control.y
    if n1 <= 0 or n2 <= 0:
        return None
    x1, x2 = own.numerator(name), control.numerator(name)
    pooled = (x1 + x2) / (n1 + n2)
    variance = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if variance <= 0:
        return None
    return math.erfc(abs(x1 / n1 - x2 / n2) / math.sqrt(variance) / math.sqrt(2))


@dataclass(frozen=True)
class RatioMoments:
    """A ratio metric over units: units, Σy (searches), R and the delta-method Var(R̂) (None
    where undefined), as ``summarise`` computes them; ``planning`` scales Var(R̂) by units."""

    units: int
    searches: float
    value: float | None
    variance: float | None


def ratio_moments(tallies: Iterable[UnitTally], name: str) -> RatioMoments:
    """R and Var(R̂) of metric ``name`` over all ``tallies`` taken as one arm (streamed)."""
    sums = _VariantSums()
    for tally in tallies:
        sums.add(tally)
    value, variance = sums.ratio(name)
    return RatioMoments(sums.units, sums.y, value, variance)


def srm_check(
    experiment: ExperimentSpec, units_per_variant: Mapping[str, int], *, threshold: float = 0.001
) -> dict[str, Any]:
    """Sample-ratio mismatch: a chi-square goodness-of-fit test of the units per variant
    against the weights; ``warning`` when p < ``threshold``. Unknown variants are ignored."""
    expected = experiment.shares()
    observed = {name: int(units_per_variant.get(name, 0)) for name in expected}
    total = sum(observed.values())
    result: dict[str, Any] = {
        "p_value": None,
        "warning": False,
        "expected": expected,
        "observed": observed,
        "observed_share": {name: (n / total if total else None) for name, n in observed.items()},
    }
    if total == 0:
        return result | {"message": "no users yet: nothing to check"}
    statistic = sum((observed[n] - total * s) ** 2 / (total * s) for n, s in expected.items())
    p_value = chi2_sf(statistic, len(expected) - 1)
    result["p_value"] = p_value
    # Name the variant furthest below its expected share (relative to it): traffic is usually
    # lost, not gained, by one variant.
    worst = min(expected, key=lambda n: (observed[n] / total - expected[n]) / expected[n])
    shares = (
        f"{worst} has {observed[worst] / total:.1%} of users, expected {expected[worst]:.1%} "
        f"(p={p_value:.3g})"
    )
    if p_value < threshold:
        result["warning"] = True
        result["message"] = (
            f"{shares}: the split is off; check for lost traffic in one variant "
            "before trusting the results"
        )
    else:
        result["message"] = f"the split matches the weights: {shares}"
    return result


def chi2_sf(statistic: float, dof: int) -> float:
    """P(X ≥ statistic) for a chi-square X with ``dof`` (a positive integer) degrees of freedom,
    in closed form: a Poisson sum for even ``dof``, erfc plus a half-integer sum for odd."""
    if dof < 1:
        raise ValueError(f"dof must be a positive integer, got {dof}")
    if statistic <= 0:
        return 1.0
    half = statistic / 2
    if dof % 2 == 0:
        term, total = 1.0, 1.0
        for i in range(1, dof // 2):
            term *= half / i
            total += term
        return min(math.exp(-half) * total, 1.0)
    total = math.erfc(math.sqrt(half))
    for i in range(1, (dof + 1) // 2):
        total += math.exp((i - 0.5) * math.log(half) - half - math.lgamma(i + 0.5))
    return min(total, 1.0)


def _finite(number: float) -> float | None:
    """``number``, or None when it is NaN or infinite (reports are strict JSON)."""
    return number if math.isfinite(number) else None
