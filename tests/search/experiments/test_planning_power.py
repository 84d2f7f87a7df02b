"""The simulator checks the planner: at the planned sample size for 80% power, the report's own
test finds the true effect in 80% ± 5% of simulated experiments.

Seeded. 600 simulated experiments: the binomial standard error of the share at 0.8 is
sqrt(0.8 · 0.2 / 600) = 0.016, so the ±0.05 band is ±3.1 SE (a correct planner fails it with
probability 0.2%; one whose power is really 0.72 or 0.88 passes it with about 1.5%). Tallies are
drawn per unit from the simulator's shopper model (``traffic.sampled_tallies``) with users that
differ in propensity (uniform on 0-2 times the CTR, 1-15 searches each), so a per-search
binomial variance plans too few users; 300 more runs show that it does (power below 0.75, SE
0.025).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from search.events.definitions import ExperimentSpec
from search.experiments.planning import Baseline, PlanRequest, plan
from search.experiments.stats import ratio_moments, summarise
from search.experiments.traffic import Truth, sampled_tallies

SEED = 20261130
REPETITIONS = 600
TOLERANCE = 0.05
BASE_CTR, MDE, SEARCHES_PER_USER, SPREAD = 0.10, 0.30, 8, 1.0
NAIVE_REPETITIONS = 300
TRUTH = Truth({"control": BASE_CTR, "treatment": BASE_CTR * (1 + MDE)})
EXPERIMENT = ExperimentSpec.model_validate(
    {"id": "power", "variants": [{"name": "control"}, {"name": "treatment"}]}
)


def _power(rng: np.random.Generator, n_control: int, n_treatment: int, runs: int) -> float:
    """Share of ``runs`` simulated experiments whose treatment CTR is significant."""
    hits = 0
    for _ in range(runs):
        tallies = sampled_tallies(
            "control", n_control, TRUTH, rng,
            searches_per_user=SEARCHES_PER_USER, propensity_spread=SPREAD,
        ) + sampled_tallies(
            "treatment", n_treatment, TRUTH, rng,
            searches_per_user=SEARCHES_PER_USER, propensity_spread=SPREAD,
        )  # fmt: skip
        treatment = summarise(EXPERIMENT, tallies)[1]
        hits += treatment["metrics"]["ctr"]["significant"]
    return hits / runs


def test_the_planned_sample_size_reaches_80_percent_power_in_simulated_experiments() -> None:
    rng = np.random.default_rng(SEED)
    # The baseline as the planner reads it from a log: a pilot's per-user moments.
    pilot = sampled_tallies(
        "control", 50_000, TRUTH, rng, searches_per_user=SEARCHES_PER_USER, propensity_spread=SPREAD
    )
    moments = ratio_moments(pilot, "ctr")
    assert moments.value is not None and moments.variance is not None
    per_unit = moments.searches / moments.units
    baseline = Baseline(moments.value, moments.variance * moments.units, "log", per_unit)
    request = PlanRequest(metric="ctr", mde=MDE, units_per_day=1000)
    planned = plan(request, baseline, 1000)
    n_control, n_treatment = planned["units_per_arm"].values()

    power = _power(rng, n_control, n_treatment, REPETITIONS)
    print(f"planned {n_control}+{n_treatment} users: power {power:.3f} in {REPETITIONS} runs")
    assert abs(power - 0.8) <= TOLERANCE, power

    # A per-search binomial variance (p(1-p) per search, searches independent) plans fewer users.
    p = moments.value
    naive = plan(request, Baseline(p, p * (1 - p) / per_unit, "log", per_unit), 1)
    n_naive = naive["units_per_arm"]["control"]
    assert n_naive < 0.8 * n_control
    naive_power = _power(rng, n_naive, n_naive, NAIVE_REPETITIONS)
    print(f"per-search binomial plan: {n_naive} users per arm, power {naive_power:.3f}")
    assert naive_power < 0.8 - TOLERANCE, naive_power
    assert math.isfinite(planned["days"])


@pytest.mark.parametrize("mde", [0.05, 0.1, 0.3])
def test_planning_for_the_mde_of_its_own_days_gives_back_that_mde(mde: float) -> None:
    baseline = Baseline(0.1, 0.03, "given")
    by_mde = plan(PlanRequest(metric="ctr", mde=mde, weights=[2, 1, 1]), baseline, 500)
    by_days = plan(PlanRequest(metric="ctr", days=by_mde["days"], weights=[2, 1, 1]), baseline, 500)
    assert by_days["mde"] == pytest.approx(mde, rel=1e-9)
