"""What no handler takes (a real tantivy panic, a ``BaseException``; any unexpected error) is the
JSON 500 with the request id, logged with it, on a real uvicorn server whose keep-alive
connection stays usable."""

from __future__ import annotations

import logging
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from search.api.errors import install_error_handlers
from search.api.middleware.logging import RequestContextMiddleware
from search.errors import EngineFailure, is_engine_panic
from search.recall import SearchFilters
from search.recall.embedded.backend import EmbeddedRecall
from search.recall.facets import MatchQuery
from tests.search.recall.embedded.test_corruption import garble


@pytest.fixture(scope="module")
def panic_type(api_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> type:
    """pyo3's ``PanicException``, as tantivy raises it: a sorted search over a garbled ``.fast``
    file that was not verified at open."""
    copy = tmp_path_factory.mktemp("panic") / "index"
    shutil.copytree(api_data_dir / "index", copy, ignore=shutil.ignore_patterns(".tantivy-*"))
    (fast,) = copy.glob("*.fast")
    garble(fast)
    recall = EmbeddedRecall(copy, verify_bytes=0)
    try:
        with pytest.raises(EngineFailure) as failed:
            recall.match_window(MatchQuery("bottle", None, (), SearchFilters()), "price_asc", 0, 10)
    finally:
        recall.close()
    panic = failed.value.__context__
    assert panic is not None and is_engine_panic(panic) and not isinstance(panic, Exception)
    return type(panic)


@pytest.fixture(scope="module")
def server(panic_type: type) -> Iterator[str]:
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware)

    @app.get("/panic")
    def panic() -> None:
        raise panic_type("index out of bounds")

    @app.get("/error")
    def error() -> None:
        raise RuntimeError("unexpected")

    @app.get("/ok")
    def ok() -> dict[str, bool]:
        return {"ok": True}

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    served = uvicorn.Server(uvicorn.Config(app, log_config=None, timeout_keep_alive=30))
    thread = threading.Thread(target=served.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not served.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    served.should_exit = True
    thread.join(timeout=30)
    sock.close()


@pytest.mark.parametrize("route", ["/panic", "/error"])
def test_an_unhandled_error_is_the_json_500_with_its_request_id_on_a_kept_connection(
    server: str, route: str, caplog: pytest.LogCaptureFixture
) -> None:
    peers = set()
    with httpx.Client(base_url=server, timeout=10) as client:
        for path in (route, "/ok", route, route, "/ok"):
            response = client.get(path)
            peers.add(response.extensions["network_stream"].get_extra_info("client_addr"))
            if path == "/ok":
                assert response.status_code == 200
                continue
            assert response.status_code == 500
            assert response.headers["content-type"] == "application/json"
            error = response.json()["error"]
            assert error["type"] == "InternalError"
            assert error["request_id"] == response.headers["x-request-id"]
    assert len(peers) == 1 and None not in peers, "the server dropped the keep-alive connection"
    logged = [r for r in caplog.records if r.getMessage() == "request failed"]
    assert logged and all(getattr(r, "request_id", None) for r in logged)
    assert all(r.levelno == logging.ERROR and r.exc_info for r in logged)
