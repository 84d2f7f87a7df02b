"""The paired comparison: known p-values, and which queries got better and which worse."""

from __future__ import annotations

import pytest

from search.evaluation.compare import compare_metric, compare_runs, randomization_p_value
from search.evaluation.metrics import QueryEvaluation, RunEvaluation


def evaluation(values: dict[str, float], metric: str = "nDCG@10") -> RunEvaluation:
    queries = [QueryEvaluation(qid, "en", {metric: v}, 10, 0) for qid, v in values.items()]
    return RunEvaluation(metrics=[metric], queries=queries)


def test_five_queries_all_better_give_the_exact_p_of_two_in_thirty_two() -> None:
    # Of the 2^5 sign assignments only "all +" and "all -" are as extreme as the observed one.
    assert randomization_p_value([0.1, 0.2, 0.1, 0.3, 0.05]) == 2 / 32


def test_exact_p_counts_every_assignment_at_least_as_extreme() -> None:
    # |±1 ±2 ±3| >= 6 for 2 of 8 assignments; |±1 ±2 ±4| >= |-1+2+4| = 5 for ±7 and ±5: 4 of 8.
    assert randomization_p_value([1.0, 2.0, 3.0]) == 2 / 8
    assert randomization_p_value([-1.0, 2.0, 4.0]) == 4 / 8


def test_identical_systems_are_not_different() -> None:
    assert randomization_p_value([0.0] * 40) == 1.0
    assert randomization_p_value([]) == 1.0


def test_many_queries_all_better_give_the_smallest_sampled_p() -> None:
    # With 30 queries no sampled sign assignment is as extreme (chance 2^-29), so p = 1 / 10,001.
    assert randomization_p_value([0.2] * 30) == pytest.approx(1 / 10_001)


def test_sampled_p_value_is_the_same_on_every_run() -> None:
    differences = [0.3, -0.1, 0.2, 0.0, -0.2, 0.4, 0.1, -0.3, 0.2, 0.1, 0.05, -0.05, 0.15, 0.0]
    first = randomization_p_value(differences)
    assert randomization_p_value(differences) == first
    assert 0.05 < first < 0.95


def test_per_query_deltas_show_which_queries_improved_and_which_worsened() -> None:
    a = evaluation({"q1": 0.5, "q2": 0.5, "q3": 0.5, "only-in-a": 1.0})
    b = evaluation({"q1": 0.9, "q2": 0.2, "q3": 0.5, "only-in-b": 0.0})
    result = compare_metric(a, b, "nDCG@10")
    assert [(d.query_id, round(d.delta, 6)) for d in result.deltas] == [
        ("q1", 0.4),
        ("q3", 0.0),
        ("q2", -0.3),
    ]
    assert (result.improved, result.worsened, result.unchanged) == (1, 1, 1)
    assert result.delta == pytest.approx(0.1 / 3)
    assert result.p_value == randomization_p_value([0.4, -0.3, 0.0])


def test_recall_at_two_different_ks_is_compared_side_by_side() -> None:
    a = evaluation({"q1": 0.5, "q2": 0.5}, "R@50")
    b = evaluation({"q1": 1.0, "q2": 0.5}, "R@100")
    (result,) = compare_runs(a, b)
    assert result.metric == "R@50 vs R@100"
    assert (result.mean_a, result.mean_b) == (0.5, 0.75)
