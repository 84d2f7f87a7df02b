"""The final score an experiment's blend orders by (pure: no index, no model)."""

from __future__ import annotations

import math

import pytest

from catalog.product import Product
from search.recall import RecallHit
from search.results.head import final_scores


def _hits(*bm25: float) -> list[RecallHit]:
    return [
        RecallHit(
            Product(id=f"p{n}", title=f"product {n}", locale="en-US", price=1.0, currency="EUR"),
            score,
        )
        for n, score in enumerate(bm25)
    ]


def test_blend_zero_orders_by_the_raw_model_score() -> None:
    assert final_scores(_hits(9.0, 3.0), [0.5, 2.0], 0.0) == [0.5, 2.0]


def test_blend_one_orders_by_bm25_over_the_top_bm25() -> None:
    assert final_scores(_hits(8.0, 4.0), [-3.0, 5.0], 1.0) == [1.0, 0.5]


def test_a_blend_mixes_the_sigmoid_of_the_model_with_normalised_bm25() -> None:
    blended = final_scores(_hits(10.0, 5.0), [0.0, 2.0], 0.25)
    expected = [0.75 * 0.5 + 0.25 * 1.0, 0.75 / (1 + math.exp(-2.0)) + 0.25 * 0.5]
    assert blended == pytest.approx(expected)


def test_unscored_candidates_have_no_final_score_and_no_model_means_bm25() -> None:
    assert final_scores(_hits(4.0, 2.0), [1.0, None], 0.5)[1] is None
    assert final_scores(_hits(4.0, 2.0), None, 0.5) == [4.0, 2.0]
    assert final_scores(_hits(4.0, 2.0), [None, None], 0.0) == [4.0, 2.0]
