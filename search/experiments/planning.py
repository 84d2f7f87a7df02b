"""Experiment planning: the sample size (randomisation units per arm) and days needed to detect a
minimum detectable effect (MDE), or the MDE reachable in a given number of days.

The variance is the report's own (``search.experiments.stats``): a metric is a ratio R = Σx / Σy
over units (x its numerator per unit, y searches per unit), and with per-unit moments the delta
method gives (Deng, Knoblich, Lu, "Applying the Delta Method in Metric Analytics", KDD 2018)

    n · Var(R̂) ≈ V = (σ²_x − 2R·σ_xy + R²·σ²_y) / μ²_y

The report compares each treatment t with control c by a two-sided z-test on R_t − R_c, so with
shares s_t, s_c of the N units in the experiment it detects δ = MDE · R (the MDE is *relative*,
like the report's lift) with power 1 − β when (Kohavi, Tang, Xu, "Trustworthy Online Controlled
Experiments", 2020, ch. 17; with equal shares it is their n ≈ 16σ²/δ² per arm)

    N = (z_{1−α/2} + z_{1−β})² · (V/s_c + V_t/s_t) / δ²,   V_t = r(MDE) · V

taking the treatment that needs most (the one with the smallest share). V_t is the treatment's
variance under the effect, r(MDE)·V. For a rate p, V splits into the part independent searches
would give, W = p(1−p)/m̄ (m̄ searches per unit), which scales as p'(1−p') with p' = p(1 + MDE),
and the rest, B = V − W (users differ), which scales as p'²; for revenue the effect is taken as
multiplicative (every unit's numerator scaled by 1 + MDE), r = (1 + MDE)². Kohavi et al. take
V_t = V, which plans too few units for large effects. Days = N / (units per day × traffic
share), assuming new units keep arriving at the rate the log shows. Solved for the MDE (a
quadratic in it), the same formula gives the MDE of a duration.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from search.experiments.stats import METRICS

PlannedMetric = Literal["ctr", "conversion_rate", "revenue_per_search"]
MAX_RELATIVE_MDE = 10.0  # +1000%: beyond it the question is not an experiment's
MAX_UNITS = 1e12  # a plan needing more users than this is not a plan
MAX_PLAN_DAYS = 36500  # 100 years: a plan running longer is not a plan
MIN_TRAFFIC = 1e-6  # one user in a million: below it no duration is plannable
MIN_WEIGHT, MAX_WEIGHT = 1e-3, 1000  # variant weights; shares stay >= 1e-6


class PlanRequest(BaseModel):
    """What to plan for; exactly one of ``mde`` (gives days) and ``days`` (gives the MDE)."""

    # Strict: numbers must be JSON numbers ("0.1" is refused naming its field, as is 14.0 for
    # an integer field), and nothing else is coerced either.
    model_config = ConfigDict(extra="forbid", strict=True)

    metric: PlannedMetric = Field(description="The report's metric to power the test for.")
    mde: float | None = Field(
        None,
        ge=1e-6,
        le=MAX_RELATIVE_MDE,
        description="Minimum detectable effect, relative to the baseline (0.05: +5%).",
    )
    days: float | None = Field(None, gt=0, le=3650, description="Days the experiment would run.")
    baseline: float | None = Field(
        None,
        ge=1e-9,
        le=1e9,
        description="The metric's current value; default: measured on the log's last "
        "lookback_days days (with its per-user variance).",
    )
    baseline_sd: float | None = Field(
        None,
        ge=1e-9,
        le=1e9,
        description="With a given baseline: the per-search standard deviation of the metric's "
        "numerator (default for a rate p: sqrt(p(1-p)); required for revenue_per_search).",
    )
    searches_per_unit: float = Field(
        1.0,
        ge=1,
        le=10000,
        description="With a given baseline: searches per user, assumed independent.",
    )
    units_per_day: float | None = Field(
        None, gt=0, le=1e10, description="Users per day in all traffic; default: from the log."
    )
    lookback_days: int = Field(14, ge=1, le=365, description="Days of log to measure from.")
    weights: list[float] = Field(
        default_factory=lambda: [1.0, 1.0],
        min_length=2,
        max_length=10,
        description="Relative weights of the variants, control first (as in an experiment).",
    )
    traffic: float = Field(
        1.0, ge=MIN_TRAFFIC, le=1, description="Share of users in the experiment (>= 1e-6)."
    )
    alpha: float = Field(0.05, ge=1e-6, lt=0.5, description="Two-sided significance level.")
    power: float = Field(0.8, ge=0.5, le=0.999999, description="Probability of detecting the MDE.")

    @model_validator(mode="after")
    def _check(self) -> Self:
        if (self.mde is None) == (self.days is None):
            raise ValueError("mde, days: give exactly one (mde gives the days, days the MDE)")
        bad = [w for w in self.weights if not MIN_WEIGHT <= w <= MAX_WEIGHT]  # NaN too
        if bad:
            raise ValueError(
                f"weights: each must be between {MIN_WEIGHT:g} and {MAX_WEIGHT:g} (got {bad[0]!r})"
            )
        if self.baseline is not None:
            check_baseline(self.metric, self.baseline, self.mde, "baseline")
            if self.baseline_sd is None and not is_rate(self.metric):
                raise ValueError(f"baseline_sd: required with a given {self.metric} baseline")
        return self


def is_rate(metric: str) -> bool:
    """Whether the metric is a share of searches (at most 1)."""
    return METRICS[metric][1] == 1.0


def check_baseline(metric: str, baseline: float, mde: float | None, source: str) -> None:
    """ValueError naming ``source`` (or ``mde``) when the baseline or the effect is impossible:
    a rate must lie in (0, 1) and stay at most 1 after the effect."""
    if not math.isfinite(baseline) or baseline <= 0:
        raise ValueError(f"{source}: {metric} must be > 0 to plan for (got {baseline!r})")
    if is_rate(metric) and baseline >= 1:
        raise ValueError(f"{source}: {metric} is a rate and must be < 1 (got {baseline!r})")
    if is_rate(metric) and mde is not None and baseline * (1 + mde) > 1:
        raise ValueError(
            f"mde: +{mde:.0%} on a {metric} of {baseline:.4g} exceeds 1; the largest is "
            f"{1 / baseline - 1:.4g}"
        )


@dataclass(frozen=True)
class Baseline:
    """The metric now: its value R, the per-unit variance V = n·Var(R̂), and where they came
    from (``log`` with its units and searches, or ``given`` with the stated assumption)."""

    value: float
    unit_variance: float
    source: Literal["log", "given"]
    searches_per_unit: float = 1.0
    units: int | None = None
    searches: int | None = None
    assumption: str | None = None


def given_baseline(request: PlanRequest) -> Baseline:
    """The baseline as given: each unit makes ``searches_per_unit`` independent searches, so
    V = sd² / m (no user clustering: this understates V when users differ; the log's does not)."""
    assert request.baseline is not None
    p = request.baseline
    sd = request.baseline_sd if request.baseline_sd is not None else math.sqrt(p * (1 - p))
    m = request.searches_per_unit
    return Baseline(
        value=p,
        unit_variance=sd * sd / m,
        source="given",
        searches_per_unit=m,
        assumption=f"{m:g} independent searches per user, per-search sd {sd:.4g}",
    )


def plan(request: PlanRequest, baseline: Baseline, units_per_day: float | None) -> dict[str, Any]:
    """The plan as JSON-ready data: ``units_per_arm`` ({variant index label: units}),
    ``units_total``, ``days`` (None without a daily traffic) and ``mde`` (relative) /
    ``mde_absolute``; for ``days`` requests the MDE reachable then. ValueError naming the
    parameter when the baseline (from the log) cannot be planned for."""
    source = "baseline" if baseline.source == "given" else "lookback_days"
    check_baseline(request.metric, baseline.value, request.mde, source)
    if baseline.unit_variance <= 0:
        name = "baseline_sd" if baseline.source == "given" else source
        raise ValueError(f"{name}: the {request.metric} does not vary between users")
    z = NormalDist().inv_cdf(1 - request.alpha / 2) + NormalDist().inv_cdf(request.power)
    total = sum(request.weights)
    shares = [w / total for w in request.weights]
    # The treatment with the smallest share needs the most units.
    inv_c, inv_t = 1 / shares[0], 1 / min(shares[1:])
    # r(m) = 1 + b·m + c·m², the treatment's variance over the control's at a relative effect m.
    if is_rate(request.metric):
        p, v = baseline.value, baseline.unit_variance
        within = min(v, p * (1 - p) / baseline.searches_per_unit)
        between, q = v - within, p / (1 - p)
        b, c = (within * (1 - q) + 2 * between) / v, (between - within * q) / v
    else:
        b, c = 2.0, 1.0
    daily = None if units_per_day is None else units_per_day * request.traffic
    if request.mde is not None:
        mde = request.mde
        delta = mde * baseline.value
        spread = inv_c + (1 + b * mde + c * mde * mde) * inv_t
        # An effect so small that δ² underflows needs more users than any plan: caught below.
        units = z * z * baseline.unit_variance * spread / max(delta * delta, 1e-300)
        days = None if daily is None else units / daily if daily > 0 else math.inf
    else:
        if daily is None:
            raise ValueError("units_per_day: unknown (no traffic in the log): give it")
        assert request.days is not None
        days = request.days
        units = daily * days
        k = units * baseline.value**2 / (z * z * baseline.unit_variance)
        mde = _reachable_mde(k, inv_c, inv_t, b, c)
        if is_rate(request.metric) and baseline.value * (1 + mde) > 1:
            raise ValueError("days: too few users in that time to detect any possible effect")
        delta = mde * baseline.value
    if request.mde is not None and not units <= MAX_UNITS:  # NaN too
        raise ValueError(f"mde: it needs more than {MAX_UNITS:.0e} users; not plannable")
    if days is not None and not days <= MAX_PLAN_DAYS:
        raise ValueError(
            f"traffic, units_per_day, mde: it needs {days:.3g} days at {daily:.3g} users/day in "
            f"the experiment, over the {MAX_PLAN_DAYS} days a plan may take; raise traffic or "
            "units_per_day, or plan for a larger mde"
        )
    if not math.isfinite(mde):
        raise ValueError("days: no MDE can be computed for that baseline and traffic")
    names = ["control"] + [f"treatment_{i}" for i in range(1, len(shares))]
    per_arm = {name: math.ceil(units * s) for name, s in zip(names, shares, strict=True)}
    return {
        "metric": request.metric,
        "alpha": request.alpha,
        "power": request.power,
        "baseline": asdict(baseline),
        "mde": mde,
        "mde_absolute": delta,
        "treatment_value": baseline.value + delta,
        "shares": dict(zip(names, shares, strict=True)),
        "traffic": request.traffic,
        "units_per_arm": per_arm,
        "units_total": sum(per_arm.values()),
        "units_per_day": units_per_day,
        "experiment_units_per_day": daily,
        "days": days,
        "days_whole": None if days is None else math.ceil(days - 1e-9),
        "unit": "user (else session)",
        "formula": "N = (z_{1-a/2} + z_{power})^2 * V * (1/s_t + 1/s_c) / delta^2, "
        "V the delta-method per-user variance (Kohavi, Tang, Xu 2020 ch. 17; Deng et al. 2018)",
    }


def _reachable_mde(k: float, inv_c: float, inv_t: float, b: float, c: float) -> float:
    """The m > 0 with m²·k = inv_c + (1 + b·m + c·m²)·inv_t (the sample-size formula solved for
    the relative MDE, k = N·R² / (z²·V)); ValueError when no effect is detectable that soon."""
    a = k - c * inv_t
    if a <= 0:
        raise ValueError("days: too few users in that time to detect any effect; run longer")
    return (b * inv_t + math.sqrt((b * inv_t) ** 2 + 4 * a * (inv_c + inv_t))) / (2 * a)


def format_plan(result: dict[str, Any]) -> str:
    """The plan for people, a few lines."""
    base = result["baseline"]
    origin = (
        f"measured on {base['units']} users, {base['searches']} searches"
        if base["source"] == "log"
        else f"given; assumed {base['assumption']}"
    )
    arms = ", ".join(f"{name} {units:,}" for name, units in result["units_per_arm"].items())
    days = "unknown (no daily traffic)" if result["days"] is None else f"{result['days']:.1f}"
    return "\n".join(
        [
            f"{result['metric']}: baseline {base['value']:.4g} ({origin})",
            f"MDE {result['mde']:+.2%} relative ({result['mde_absolute']:.4g} absolute, "
            f"{base['value']:.4g} -> {result['treatment_value']:.4g}) at alpha "
            f"{result['alpha']:g} two-sided, power {result['power']:g}",
            f"users needed: {result['units_total']:,} ({arms})",
            f"days: {days} at {_per_day(result)} users/day in the experiment "
            f"(traffic {result['traffic']:.0%})",
        ]
    )


def _per_day(result: dict[str, Any]) -> str:
    daily = result["experiment_units_per_day"]
    return "-" if daily is None else f"{daily:,.0f}"
