"""Shelf's metrics against trec_eval (through ir_measures' pytrec_eval provider) to 1e-9.

ir_measures' pytrec_eval provider has no cut-off reciprocal rank (it silently computes RR over
the whole run), so MRR@10 is checked against its MS MARCO provider, which does, given the run in
trec_eval's order as distinct scores; the uncut RR is checked against trec_eval on the raw
(tied) scores, which pins the tie order as well.
"""

from __future__ import annotations

import ir_measures
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ir_measures import RR, P, R, nDCG

from search.evaluation.metrics import (
    evaluate_run,
    mrr_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    score_query,
    trec_order,
)

K = 10
# rel=1: grade >= 1 is relevant, as in Shelf. nDCG uses the grade itself as gain in both.
TREC_EVAL = {
    f"nDCG@{K}": nDCG @ K,
    f"P@{K}": P(rel=1) @ K,
    f"R@{K}": R(rel=1) @ K,
    "R@50": R(rel=1) @ 50,
    "RR": RR(rel=1),
}


def reference(grades: dict[str, int], scores: dict[str, float]) -> dict[str, float]:
    """The reference implementations' value of each metric for one query."""
    values = ir_measures.pytrec_eval.iter_calc(
        list(TREC_EVAL.values()), {"q": grades}, {"q": scores}
    )
    by_measure = {str(m.measure): m.value for m in values}
    expected = {name: by_measure[str(measure)] for name, measure in TREC_EVAL.items()}
    order = trec_order(scores)
    distinct = {doc: float(len(order) - rank) for rank, doc in enumerate(order)}
    (mrr,) = ir_measures.msmarco.iter_calc([RR(rel=1) @ K], {"q": grades}, {"q": distinct})
    expected[f"MRR@{K}"] = mrr.value
    return expected


def shelf(grades: dict[str, int], scores: dict[str, float]) -> dict[str, float]:
    ranking = trec_order(scores)
    return {**score_query(ranking, grades, K, [50]), "RR": mrr_at_k(ranking, grades, len(ranking))}


GRADED = {"a": 3, "b": 2, "c": 1, "d": 0, "e": 3, "f": 1}
HAND_MADE = {
    "graded, relevant spread out": {"a": 9.0, "x": 8.0, "c": 7.0, "d": 6.0, "b": 5.0},
    "perfect order": {"a": 6.0, "e": 5.0, "b": 4.0, "c": 3.0, "f": 2.0, "d": 1.0},
    "nothing relevant retrieved": {"d": 3.0, "x": 2.0, "y": 1.0},
    "fewer than k results": {"c": 2.0, "a": 1.0},
    "ties broken by docid descending": {"a": 1.0, "b": 1.0, "x": 1.0, "c": 1.0, "e": 0.5},
    "relevant only past the cutoff": {
        **{f"u{i:02d}": 100.0 - i for i in range(12)},
        "a": 1.0,
        "b": 0.5,
    },
}


@pytest.mark.parametrize("scores", list(HAND_MADE.values()), ids=list(HAND_MADE))
def test_metrics_equal_trec_eval_on_hand_made_runs(scores: dict[str, float]) -> None:
    expected = reference(GRADED, scores)
    assert shelf(GRADED, scores) == pytest.approx(expected, abs=1e-9, rel=0)


def test_binary_judgments_give_the_same_values_as_trec_eval() -> None:
    grades = {"a": 1, "b": 1, "c": 0}
    scores = {"x": 3.0, "a": 2.0, "c": 1.5, "b": 1.0}
    assert shelf(grades, scores) == pytest.approx(reference(grades, scores), abs=1e-9, rel=0)


def test_a_query_judged_all_irrelevant_scores_zero_as_in_trec_eval() -> None:
    grades = {"a": 0, "b": 0}
    scores = {"a": 2.0, "b": 1.0}
    assert shelf(grades, scores) == pytest.approx(reference(grades, scores), abs=1e-9, rel=0)
    assert set(shelf(grades, scores).values()) == {0.0}


def test_ties_are_ordered_by_docid_descending() -> None:
    assert trec_order({"a": 1.0, "c": 1.0, "b": 2.0}) == ["b", "c", "a"]


def test_known_values_by_hand() -> None:
    grades = {"a": 3, "b": 1}
    ranking = ["x", "a", "b"]
    # DCG = 3/log2(3) + 1/log2(4); ideal = 3/log2(2) + 1/log2(3)
    assert ndcg_at_k(ranking, grades, 10) == pytest.approx((3 / 1.5849625 + 0.5) / (3 + 0.6309298))
    assert mrr_at_k(ranking, grades, 10) == 0.5
    assert mrr_at_k(ranking, grades, 1) == 0.0
    assert precision_at_k(ranking, grades, 10) == 0.2
    assert recall_at_k(ranking, grades, 2) == 0.5


judged_grades = st.dictionaries(
    st.sampled_from([f"d{i}" for i in range(15)]), st.integers(0, 3), min_size=1, max_size=15
)
run_scores = st.dictionaries(
    st.sampled_from([f"d{i}" for i in range(25)]),
    st.integers(0, 6).map(float),  # few distinct values: many ties
    min_size=1,
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(judged_grades, run_scores)
def test_metrics_equal_trec_eval_on_random_runs(
    grades: dict[str, int], scores: dict[str, float]
) -> None:
    assert shelf(grades, scores) == pytest.approx(reference(grades, scores), abs=1e-9, rel=0)


@given(judged_grades, st.lists(st.sampled_from([f"d{i}" for i in range(25)]), unique=True))
def test_every_metric_lies_between_zero_and_one(grades: dict[str, int], ranking: list[str]) -> None:
    assert all(0.0 <= value <= 1.0 for value in score_query(ranking, grades, K, [50]).values())


@given(judged_grades.filter(lambda g: max(g.values()) > 0))
def test_ranking_by_grade_has_perfect_ndcg_and_mrr(grades: dict[str, int]) -> None:
    ranking = sorted(grades, key=lambda doc: -grades[doc])
    assert ndcg_at_k(ranking, grades, K) == pytest.approx(1.0)
    assert mrr_at_k(ranking, grades, K) == 1.0


def test_queries_without_judgments_are_listed_and_left_out_of_averages() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}, "q9": {"z": 1}}
    rankings = {"q1": ["a"], "q2": ["x"], "q3": ["a", "b"]}
    result = evaluate_run(rankings, qrels, {"q1": "en", "q2": "de", "q3": "en"}, K)
    assert result.without_judgments == ["q3"]
    assert result.judgments_without_query == ["q9"]
    summary = result.summary()
    assert summary["all"]["queries"] == 2
    assert summary["all"]["MRR@10"] == 0.5  # q1 = 1, q2 = 0; q3 is not a zero in the mean
    assert summary["en"]["MRR@10"] == 1.0 and summary["de"]["MRR@10"] == 0.0


def test_judged_and_unjudged_results_in_the_top_k_are_counted() -> None:
    result = evaluate_run({"q": ["a", "x", "b", "y"]}, {"q": {"a": 0, "b": 2}}, {"q": "en"}, 3)
    assert (result.queries[0].judged, result.queries[0].unjudged) == (2, 1)
