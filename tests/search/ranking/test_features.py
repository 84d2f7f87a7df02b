"""The learned ranker's features: one row per candidate, NaN where a value does not apply,
computed from what the search path hands the rank stage (real tantivy index, real embedding
model), and the same rows in training and serving."""

from __future__ import annotations

import math

import numpy as np
import pytest

from catalog.product import Product
from search.pipeline.config import SearchConfig
from search.pipeline.request import search_request
from search.pipeline.service import SearchService
from search.ranking.features import FEATURES, INDEX, RankTrace, candidate_features, feature_key
from search.ranking.model import DEFAULT_DIR, LearnedRanker, load_ranker
from search.recall import RecallHit, SearchFilters
from search.recall.embedded.backend import EmbeddedRecall
from search.recall.fusion import FusedHit
from search.recall.plan import QueryPlan
from tests.conftest import make_product
from workers.embedding.model import UseEmbedder


def _plan(text: str, language: str | None = "en", detected: bool = False) -> QueryPlan:
    return QueryPlan(
        text, SearchFilters(), "hybrid", (language,) if language else None, detected, None, None,
        None,
    )  # fmt: skip


def _hit(product: Product, bm25: float, cosine: float | None, rank: int) -> FusedHit:
    return FusedHit(
        RecallHit(product, bm25, cosine), rank if bm25 else None, rank if cosine else None, 0.01
    )


@pytest.fixture
def service(hybrid_sample_index: EmbeddedRecall, embedder: UseEmbedder) -> SearchService:
    return SearchService(
        hybrid_sample_index, None, embedder=embedder, config=SearchConfig(recall_k=50)
    )


def test_rows_are_float32_with_one_column_per_feature() -> None:
    products = [make_product(id=f"p{i}", title=f"steel water bottle {i}") for i in range(3)]
    rows = candidate_features(_plan("water bottle"), [_hit(p, 2.0, 0.5, 1) for p in products])
    assert rows.shape == (3, len(FEATURES)) and rows.dtype == np.float32
    assert candidate_features(_plan("water bottle"), []).shape == (0, len(FEATURES))


# (feature, query, product fields, bm25, cosine, model score, expected: a number or NaN)
CASES = [
    ("cosine", "water bottle", {}, 3.0, None, None, math.nan),  # dense leg missed it
    ("bm25_ratio", "water bottle", {}, 0.0, 0.4, None, math.nan),  # lexical leg missed it
    ("cross_encoder", "water bottle", {}, 3.0, 0.4, None, math.nan),  # not computed
    ("cross_encoder", "water bottle", {}, 3.0, 0.4, 1.5, 1.5),
    ("number_agreement", "water bottle", {}, 3.0, 0.4, None, math.nan),  # no number asked
    ("number_agreement", "bottle 750 ml", {"title": "Bottle 750ml"}, 3.0, 0.4, None, 1.0),
    ("unit_agreement", "bottle 750 ml", {"title": "Bottle 750ml"}, 3.0, 0.4, None, 1.0),
    (
        "unit_agreement",
        "bottle 750 ml",
        {"title": "Bottle 500 ml", "bullets": []},
        3.0,
        0.4,
        None,
        0.0,
    ),
    (
        "number_agreement",
        "bottle 750 ml",
        {"title": "Bottle 500 ml", "bullets": []},
        3.0,
        0.4,
        None,
        0.0,
    ),
    ("title_coverage", "water bottle", {"title": "Water bottles"}, 3.0, 0.4, None, 1.0),
    ("title_coverage", "water bottle", {"title": "Water jug"}, 3.0, 0.4, None, 0.5),
    ("brand_coverage", "acme bottle", {"brand": "Acme"}, 3.0, 0.4, None, 0.5),
    ("title_phrase", "water bottle", {"title": "Steel water bottle"}, 3.0, 0.4, None, 1.0),
    ("title_phrase", "water bottle", {"title": "Bottle for water"}, 3.0, 0.4, None, 0.0),
    ("same_language", "water bottle", {"locale": "de-DE"}, 3.0, 0.4, None, 0.0),
    ("same_language", "water bottle", {"locale": "en-GB"}, 3.0, 0.4, None, 1.0),
    ("typo_match", "water bottle", {}, 3.0, 0.4, None, math.nan),  # nothing corrected
    ("in_stock", "water bottle", {"in_stock": False}, 3.0, 0.4, None, 0.0),
    ("popularity_prior", "water bottle", {}, 3.0, 0.4, None, math.nan),  # no prior source
]


@pytest.mark.parametrize(("feature", "query", "fields", "bm25", "cosine", "model", "expected"),
                         CASES)  # fmt: skip
def test_feature_value(
    feature: str,
    query: str,
    fields: dict[str, object],
    bm25: float,
    cosine: float | None,
    model: float | None,
    expected: float,
) -> None:
    product = make_product(**{"id": "p1", "title": "Water bottle", **fields})
    row = candidate_features(_plan(query), [_hit(product, bm25, cosine, 1)], [model])[0]
    value = float(row[INDEX[feature]])
    if math.isnan(expected):
        assert math.isnan(value), (feature, value)
    else:
        assert value == pytest.approx(expected), (feature, value)


def test_language_unknown_is_nan_and_detected_is_one() -> None:
    product = make_product(id="p1", title="Water bottle")
    unknown = candidate_features(_plan("water bottle", None), [_hit(product, 1.0, 0.3, 1)])[0]
    assert math.isnan(unknown[INDEX["same_language"]])
    assert math.isnan(unknown[INDEX["language_detected"]])
    detected = candidate_features(_plan("water bottle", "en", True), [_hit(product, 1, 0.3, 1)])
    assert detected[0, INDEX["language_detected"]] == 1.0


def test_training_and_serving_compute_the_same_rows(service: SearchService) -> None:
    request = search_request("wireless headphones", lang="en", rerank=False, recall="hybrid")
    trace = RankTrace()
    service.with_config(ranker=None).search(request, trace=trace)  # what training records
    served = RankTrace()
    ranked = service.with_config(ranker=load_ranker("default")).search(request, trace=served)
    assert ranked.ranker is not None and trace.features is not None
    assert served.product_ids == trace.product_ids
    np.testing.assert_array_equal(served.features, trace.features)
    # Both legs' candidates, past the window the fused order alone would keep.
    assert len(trace.product_ids) > 0
    assert not np.isnan(trace.features[:, INDEX["cosine"]]).all()


def test_a_repeated_search_reuses_its_scores_and_they_equal_a_fresh_rankers(
    service: SearchService,
) -> None:
    ranker = LearnedRanker.load(DEFAULT_DIR, name="default")  # its own memo, empty
    remembering = service.with_config(ranker=ranker)
    queries = [("wireless headphones", "en"), ("kaffeemaschine", "de"), ("降噪耳机", "zh")]
    first = [remembering.search(search_request(q, lang=lang, rerank=False)) for q, lang in queries]
    assert len(ranker._recent) == len(queries)  # one remembered candidate set per search
    again = [remembering.search(search_request(q, lang=lang, rerank=False)) for q, lang in queries]
    assert len(ranker._recent) == len(queries)  # the same sets: nothing new
    fresh = service.with_config(ranker=LearnedRanker.load(DEFAULT_DIR, name="default"))
    for (q, lang), one, two in zip(queries, first, again, strict=True):
        three = fresh.search(search_request(q, lang=lang, rerank=False))
        rows = [[(i.product_id, i.final_score) for i in r.items] for r in (one, two, three)]
        assert rows[0] == rows[1] == rows[2]


@pytest.mark.parametrize(
    "change",
    [
        {"in_stock": False},
        {"price": 1.0},
        {"title": "Water bottle, insulated"},
    ],
)
def test_any_change_to_a_candidate_is_a_new_key(change: dict[str, object]) -> None:
    product = make_product(id="p1", title="Water bottle")
    plan = _plan("water bottle")
    key = feature_key(plan, [_hit(product, 1.0, 0.3, 1)])
    assert key == feature_key(
        plan, [_hit(make_product(id="p1", title="Water bottle"), 1.0, 0.3, 1)]
    )
    assert key != feature_key(plan, [_hit(product.model_copy(update=change), 1.0, 0.3, 1)])
    assert key != feature_key(plan, [_hit(product, 1.5, 0.3, 1)])  # another BM25 score
    assert key != feature_key(_plan("water bottles"), [_hit(product, 1.0, 0.3, 1)])
    assert key != feature_key(plan, [_hit(product, 1.0, 0.3, 1)], [2.0])  # a model score
