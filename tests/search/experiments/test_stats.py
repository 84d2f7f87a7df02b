"""The report's statistics, pinned on hand computations and checked by simulation."""

from __future__ import annotations

import bisect
import itertools
import json
import math
import random
from collections.abc import Iterator
from statistics import NormalDist

import pytest

from search.events.aggregates import UnitTally
from search.events.definitions import ExperimentSpec, Variant
from search.experiments.stats import chi2_sf, srm_check, summarise

Z95 = NormalDist().inv_cdf(0.975)
AB = ExperimentSpec(id="ab", variants=[Variant(name="control"), Variant(name="treatment")])


def _tally(variant: str, searches: int, clicked: int, **fields: float) -> UnitTally:
    values: dict = {
        "clicks": clicked,
        "converted_searches": 0,
        "purchases": 0,
        "revenue": 0.0,
        "reciprocal_rank": float(clicked),
    }
    values.update(fields)
    return UnitTally(variant, searches, clicked, **values)


def _by_name(variants: list[dict]) -> dict[str, dict]:
    return {v["variant"]: v for v in variants}


def _simulate(
    rng: random.Random, variant: str, users: int, ctr: float, spread: float = 0.0
) -> Iterator[UnitTally]:
    """Users with 1-5 searches each; each user's own CTR is ``ctr`` ± ``spread`` (mean ``ctr``),
    so with a spread one user's searches are correlated. Clicked searches are drawn from the
    binomial's CDF with one uniform number, and equal tallies are shared (they are frozen):
    the Monte-Carlo test runs hundreds of these."""
    tables = {own: _binomial_cdfs(own) for own in {ctr - spread, ctr + spread}}
    made: dict[tuple[int, int], UnitTally] = {}
    for _ in range(users):
        cdfs = tables[ctr + spread if rng.random() < 0.5 else ctr - spread]
        searches = 1 + int(rng.random() * 5)  # randint(1, 5), twice as fast
        clicked = bisect.bisect_right(cdfs[searches], rng.random())
        tally = made.get((searches, clicked))
        if tally is None:
            tally = made[(searches, clicked)] = _tally(variant, searches, clicked)
        yield tally


def _binomial_cdfs(p: float) -> dict[int, list[float]]:
    """For n = 1..5 searches, the CDF of clicked searches at 0..n-1 (n itself is the rest)."""
    cdfs = {}
    for n in range(1, 6):
        pmf = [math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(n)]
        cdfs[n] = list(itertools.accumulate(pmf))
    return cdfs


def test_value_and_interval_match_a_hand_computation() -> None:
    # Units (searches, clicked): (2, 1), (1, 0), (3, 2) -> R = 3/6; residuals x - R*y are
    # 0, -0.5, 0.5, so Var(R) = 0.5 / 6**2.
    tallies = [_tally("control", 2, 1), _tally("control", 1, 0), _tally("control", 3, 2)]
    ctr = _by_name(summarise(AB, tallies))["control"]["metrics"]["ctr"]
    half = Z95 * math.sqrt(0.5) / 6
    assert ctr["value"] == pytest.approx(0.5)
    assert ctr["ci_low"] == pytest.approx(0.5 - half)
    assert ctr["ci_high"] == pytest.approx(0.5 + half)


def test_counts_are_the_sums_of_the_tallies() -> None:
    tallies = [
        _tally("control", 2, 1, clicks=3, purchases=1, revenue=9.5, add_to_carts=2),
        _tally("control", 4, 0),
        _tally("treatment", 1, 1, clicks=1, purchases=2, revenue=1.25),
    ]
    control, treatment = summarise(AB, tallies)
    assert (control["impressions"], control["users"], control["clicks"]) == (6, 2, 3)
    assert (control["purchases"], control["revenue"], control["add_to_carts"]) == (1, 9.5, 2)
    assert (treatment["impressions"], treatment["users"], treatment["purchases"]) == (1, 1, 2)


def test_with_one_search_per_user_the_interval_is_the_wald_interval() -> None:
    rng = random.Random(7)
    tallies = [_tally("control", 1, int(rng.random() < 0.3)) for _ in range(997)]
    clicked = sum(t.clicked_searches for t in tallies)
    p = clicked / len(tallies)
    half = Z95 * math.sqrt(p * (1 - p) / len(tallies))
    ctr = summarise(AB, tallies)[0]["metrics"]["ctr"]
    assert abs(ctr["ci_low"] - (p - half)) < 1e-9
    assert abs(ctr["ci_high"] - (p + half)) < 1e-9


def test_user_correlated_clicks_widen_the_interval_beyond_the_naive_one() -> None:
    rng = random.Random(11)
    # Each user clicks on all of their 8 searches or on none: 8 searches carry one user's worth.
    tallies = []
    for variant, ctr in (("control", 0.10), ("treatment", 0.13)):
        for _ in range(600):
            clicked = 8 if rng.random() < ctr else 0
            tallies.append(_tally(variant, 8, clicked))
    control, treatment = summarise(AB, tallies)
    ctr = control["metrics"]["ctr"]
    searches = control["impressions"]
    naive_half = Z95 * math.sqrt(ctr["value"] * (1 - ctr["value"]) / searches)
    assert ctr["ci_high"] - ctr["ci_low"] > 2 * (2 * naive_half)  # sqrt(8) times wider, in fact
    compared = treatment["metrics"]["ctr"]
    assert compared["p_value"] > compared["p_value_two_proportion"]


def test_lift_is_the_relative_difference_with_an_interval_around_it() -> None:
    rng = random.Random(3)
    tallies = [*_simulate(rng, "control", 3000, 0.10), *_simulate(rng, "treatment", 3000, 0.15)]
    control, treatment = summarise(AB, tallies)
    c, t = control["metrics"]["ctr"], treatment["metrics"]["ctr"]
    assert t["lift"] == pytest.approx(t["value"] / c["value"] - 1)
    assert 0 < t["lift_ci_low"] < t["lift"] < t["lift_ci_high"]
    assert t["significant"] and t["p_value"] < 0.05


def test_a_lower_treatment_has_a_negative_lift() -> None:
    rng = random.Random(5)
    tallies = [*_simulate(rng, "control", 3000, 0.15), *_simulate(rng, "treatment", 3000, 0.10)]
    treatment = summarise(AB, tallies)[1]["metrics"]["ctr"]
    assert treatment["lift_ci_low"] < treatment["lift"] < treatment["lift_ci_high"] < 0


def test_the_control_is_not_compared_with_itself() -> None:
    rng = random.Random(1)
    tallies = [*_simulate(rng, "control", 200, 0.2), *_simulate(rng, "treatment", 200, 0.3)]
    control = summarise(AB, tallies)[0]
    assert control["is_control"]
    for metric in control["metrics"].values():
        assert metric["lift"] is None and metric["p_value"] is None
        assert metric["significant"] is False
    assert control["metrics"]["ctr"]["p_value_two_proportion"] is None


def test_variants_come_in_the_experiments_order_control_included_without_data() -> None:
    spec = ExperimentSpec(
        id="abc",
        variants=[Variant(name="b"), Variant(name="a"), Variant(name="c")],
        control="a",
    )
    variants = summarise(spec, [_tally("c", 3, 1), _tally("b", 2, 2)])
    assert [v["variant"] for v in variants] == ["b", "a", "c"]
    assert [v["is_control"] for v in variants] == [False, True, False]
    assert variants[1]["impressions"] == 0 and variants[1]["metrics"]["ctr"]["value"] is None


def test_the_two_proportion_test_is_only_on_rates() -> None:
    metrics = summarise(AB, [_tally("control", 3, 1), _tally("treatment", 2, 1)])[1]["metrics"]
    with_test = {name for name, m in metrics.items() if "p_value_two_proportion" in m}
    assert with_test == {"ctr", "conversion_rate"}


def test_tallies_of_unknown_variants_are_ignored() -> None:
    variants = summarise(AB, [_tally("control", 3, 1), _tally("default", 5, 5)])
    assert [v["impressions"] for v in variants] == [3, 0]


def test_summarise_consumes_a_stream_once() -> None:
    rng = random.Random(2)
    stream = _simulate(rng, "control", 1000, 0.1)
    assert summarise(AB, stream)[0]["users"] == 1000


@pytest.mark.parametrize(
    ("name", "tallies"),
    [
        ("no tallies at all", []),
        ("one unit per variant", [_tally("control", 3, 1), _tally("treatment", 2, 1)]),
        ("control at zero", [_tally("control", 3, 0), _tally("control", 2, 0)]),
        (
            "no variation",
            [_tally(v, 2, 0) for v in ("control", "treatment") for _ in range(5)],
        ),
        ("units without searches", [_tally("control", 0, 0), _tally("treatment", 0, 0)]),
    ],
)
def test_degenerate_inputs_give_nulls_not_nan(name: str, tallies: list[UnitTally]) -> None:
    variants = summarise(AB, tallies)
    json.dumps(variants, allow_nan=False)  # raises on NaN or infinity
    for variant in variants:
        for metric in variant["metrics"].values():
            if metric["ci_low"] is None or metric["lift"] is None:
                assert metric["note"], (name, metric)


def test_one_unit_has_a_value_but_no_interval() -> None:
    ctr = summarise(AB, [_tally("control", 4, 1)])[0]["metrics"]["ctr"]
    assert ctr["value"] == 0.25 and ctr["ci_low"] is None and ctr["ci_high"] is None


def test_a_control_at_zero_leaves_the_lift_undefined() -> None:
    tallies = [_tally("control", 3, 0), _tally("control", 2, 0), _tally("treatment", 2, 1)]
    tallies.append(_tally("treatment", 2, 0))
    ctr = summarise(AB, tallies)[1]["metrics"]["ctr"]
    assert ctr["lift"] is None and ctr["lift_ci_low"] is None
    assert "lift undefined" in ctr["note"]


def test_no_variation_anywhere_gives_no_p_value() -> None:
    tallies = [_tally(v, 2, 0) for v in ("control", "treatment") for _ in range(5)]
    ctr = summarise(AB, tallies)[1]["metrics"]["ctr"]
    assert ctr["p_value"] is None and ctr["significant"] is False
    assert ctr["p_value_two_proportion"] is None


def test_an_even_split_raises_no_srm_warning() -> None:
    srm = srm_check(AB, {"control": 5000, "treatment": 5000})
    assert srm["p_value"] == pytest.approx(1.0) and srm["warning"] is False


def test_a_60_40_split_raises_the_srm_warning_naming_the_variant() -> None:
    srm = srm_check(AB, {"control": 6000, "treatment": 4000})
    assert srm["warning"] is True and srm["p_value"] < 1e-12
    assert srm["observed_share"] == {"control": 0.6, "treatment": 0.4}
    assert "treatment has 40.0% of users, expected 50.0%" in srm["message"]
    assert "the split is off" in srm["message"]


def test_srm_respects_the_weights() -> None:
    spec = ExperimentSpec(
        id="w", variants=[Variant(name="control", weight=1), Variant(name="big", weight=3)]
    )
    assert srm_check(spec, {"control": 2500, "big": 7500})["warning"] is False
    assert srm_check(spec, {"control": 5000, "big": 5000})["warning"] is True
    assert srm_check(spec, {})["expected"] == {"control": 0.25, "big": 0.75}


def test_srm_without_users_has_no_p_value_and_no_warning() -> None:
    srm = srm_check(AB, {})
    assert srm["p_value"] is None and srm["warning"] is False
    json.dumps(srm, allow_nan=False)


# The 95% critical values of the chi-square distribution, dof 1..9 (standard tables).
CHI2_95 = [3.841458820694124, 5.991464547107979, 7.814727903251179, 9.487729036781154]
CHI2_95 += [11.070497693516351, 12.591587243743977, 14.067140449340169, 15.507313055865453]
CHI2_95 += [16.918977604620448]


@pytest.mark.parametrize("dof", range(1, 10))
def test_chi2_tail_matches_the_tables(dof: int) -> None:
    assert chi2_sf(CHI2_95[dof - 1], dof) == pytest.approx(0.05, abs=1e-9)
    assert chi2_sf(0.0, dof) == 1.0
    assert chi2_sf(1e6, dof) == 0.0


def test_a_real_difference_of_10_vs_12_percent_is_covered_and_flagged() -> None:
    rng = random.Random(12)
    tallies = [
        *_simulate(rng, "control", 6000, 0.10, spread=0.05),
        *_simulate(rng, "treatment", 6000, 0.12, spread=0.05),
    ]
    assert summarise(AB, tallies)[1]["metrics"]["ctr"]["significant"]
    # One run's 95% interval misses the truth 1 time in 20 (the A/A test below checks that
    # rate); here the 99.9% intervals must cover it, so the seed is not what makes this pass.
    control, treatment = (v["metrics"]["ctr"] for v in summarise(AB, tallies, alpha=0.001))
    assert control["ci_low"] < 0.10 < control["ci_high"]
    assert treatment["ci_low"] < 0.12 < treatment["ci_high"]
    assert treatment["lift_ci_low"] < 0.2 < treatment["lift_ci_high"]


def test_aa_intervals_cover_the_truth_95_percent_of_the_time_without_false_alarms() -> None:
    rng = random.Random(2026)
    runs, covered, false_positives = 400, 0, 0
    for _ in range(runs):
        tallies = [
            *_simulate(rng, "control", 1000, 0.10, spread=0.06),
            *_simulate(rng, "treatment", 1000, 0.10, spread=0.06),
        ]
        control, treatment = (v["metrics"]["ctr"] for v in summarise(AB, tallies))
        covered += control["ci_low"] <= 0.10 <= control["ci_high"]
        false_positives += treatment["significant"]
    assert 0.92 <= covered / runs <= 0.98
    assert false_positives / runs <= 0.08
