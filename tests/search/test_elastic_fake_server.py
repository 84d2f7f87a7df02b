"""ElasticsearchRecall's round trips, against a FAKE Elasticsearch (no real cluster here).

A loopback HTTP server answers the few requests the backend makes for an empty catalog, as a
real 8.x cluster does (404 ``index_not_found_exception`` for a missing alias), and records them.
The live-cluster contract suite (SHELF_ELASTICSEARCH_URL) covers real behaviour.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from search.recall import SearchFilters
from search.recall.elastic import ElasticsearchRecall

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


class FakeElasticsearch(BaseHTTPRequestHandler):
    requests: list[str] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        path = self.path.split("?")[0]
        self.requests.append(f"{self.command} {path}")
        status, body = 200, {"acknowledged": True}
        if path == "/":
            body = INFO
        elif path == "/_cat/plugins":
            body = []  # type: ignore[assignment]
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
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeElasticsearch)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_fake_server_an_empty_catalog_searches_in_one_round_trip(fake_url: str) -> None:
    recall = ElasticsearchRecall(fake_url)
    FakeElasticsearch.requests.clear()

    hits = recall.search("kaffee", limit=5, filters=SearchFilters(locale="de-DE"))
    count = recall.count()
    hashes = recall.content_hashes(["p1"])
    recall.close()

    assert (hits, count, hashes) == ([], 0, {})
    assert FakeElasticsearch.requests == [
        "POST /shelf-products/_search",
        "POST /shelf-products/_count",
        "POST /shelf-products/_search",
    ]
