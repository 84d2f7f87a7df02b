"""Weighted reciprocal rank fusion of the BM25 and dense legs (search/recall/fusion.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from search.recall import RecallHit
from search.recall.fusion import FusionWeights, rrf
from tests.conftest import make_product


def _bm25(ids: list[str], scores: list[float] | None = None) -> list[RecallHit]:
    scores = scores or [float(len(ids) - i) for i in range(len(ids))]
    return [RecallHit(make_product(id=i), s) for i, s in zip(ids, scores, strict=True)]


def _dense(ids: list[str]) -> list[RecallHit]:
    return [RecallHit(make_product(id=i), 0.0, 0.9 - n / 100) for n, i in enumerate(ids)]


def _ids(fused: list) -> list[str]:
    return [f.hit.product.id for f in fused]


leg_ids = st.lists(st.sampled_from([f"p{n:02d}" for n in range(30)]), unique=True, max_size=20)


@settings(max_examples=200, deadline=None)
@given(leg_ids)
def test_one_leg_alone_keeps_its_order(ids: list[str]) -> None:
    assert _ids(rrf(_bm25(ids), [], FusionWeights(), limit=50)) == ids
    assert _ids(rrf([], _dense(ids), FusionWeights(), limit=50)) == ids


@settings(max_examples=200, deadline=None)
@given(leg_ids, leg_ids, st.integers(1, 40))
def test_fusion_returns_the_union_best_first_without_duplicates(
    lexical: list[str], semantic: list[str], limit: int
) -> None:
    fused = rrf(_bm25(lexical), _dense(semantic), FusionWeights(), limit=limit)
    union = set(lexical) | set(semantic)
    assert len(_ids(fused)) == len(set(_ids(fused))) == min(limit, len(union))
    assert set(_ids(fused)) <= union
    keys = [(-f.fused_score, f.hit.product.id) for f in fused]
    assert keys == sorted(keys)  # best first, ties by product id


@settings(max_examples=200, deadline=None)
@given(leg_ids, leg_ids)
def test_each_hit_carries_the_ranks_and_scores_of_the_legs_that_found_it(
    lexical: list[str], semantic: list[str]
) -> None:
    fused = rrf(_bm25(lexical), _dense(semantic), FusionWeights(), limit=100)
    for f in fused:
        pid = f.hit.product.id
        assert f.bm25_rank == (lexical.index(pid) + 1 if pid in lexical else None)
        assert f.dense_rank == (semantic.index(pid) + 1 if pid in semantic else None)
        assert (f.hit.bm25_score > 0) == (pid in lexical)
        assert (f.hit.dense_score is not None) == (pid in semantic)


def test_a_product_both_legs_found_outranks_one_found_by_a_single_leg_at_the_same_rank() -> None:
    fused = rrf(_bm25(["a", "both"]), _dense(["b", "both"]), FusionWeights(), limit=10)
    assert _ids(fused)[0] == "both"


def test_the_score_is_the_weighted_sum_of_reciprocal_ranks() -> None:
    weights = FusionWeights(k=60, bm25=0.5, dense=2.0)
    fused = rrf(_bm25(["x", "y"]), _dense(["y"]), weights, limit=10)
    by_id = {f.hit.product.id: f.fused_score for f in fused}
    assert by_id["x"] == pytest.approx(0.5 / 61)
    assert by_id["y"] == pytest.approx(0.5 / 62 + 2.0 / 61)


def test_a_zero_weight_leg_only_adds_candidates_after_the_other_legs_hits() -> None:
    fused = rrf(_bm25(["l1", "l2"]), _dense(["d1", "d2"]), FusionWeights(bm25=0.0), limit=10)
    assert _ids(fused)[:2] == ["d1", "d2"]


def test_ties_break_by_product_id_whatever_the_leg_order() -> None:
    first = rrf(_bm25(["b"]), _dense(["a"]), FusionWeights(), limit=10)
    second = rrf(_bm25(["a"]), _dense(["b"]), FusionWeights(), limit=10)
    assert _ids(first) == _ids(second) == ["a", "b"]


def test_weak_lexical_hits_below_the_floor_cannot_displace_dense_hits() -> None:
    # A cross-lingual query sharing one token ("5G") with an unrelated product: its BM25 score
    # is a sliver of the best lexical hit's, so it must not take rank 1 on rank alone.
    lexical = _bm25(["strong", "sliver"], [10.0, 0.4])
    weights = FusionWeights(bm25_floor=0.1)
    fused = rrf(lexical, _dense(["good", "sliver"]), weights, limit=10)
    by_id = {f.hit.product.id: f for f in fused}
    assert by_id["sliver"].bm25_rank is None  # not counted as a lexical hit
    assert _ids(fused).index("good") < _ids(fused).index("sliver")


def test_raw_scores_are_never_normalised_so_a_near_zero_best_score_stays_weak() -> None:
    # Min-max scaling would lift the only BM25 hit's 0.001 to 1.0; RRF reads ranks only, so it
    # ties with the dense leg's best and the id decides.
    fused = rrf(_bm25(["z-lexical"], [0.001]), _dense(["a-dense"]), FusionWeights(), limit=10)
    assert _ids(fused) == ["a-dense", "z-lexical"]
