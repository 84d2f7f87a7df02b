"""A damaged index over HTTP: the server starts, ``/readyz`` is 503 naming the file, ``/search``
answers the JSON error; a tantivy panic is the JSON 500 with the request id, and the client's
keep-alive connection stays usable (a real ``shelf serve``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from bench.common import Server
from search.api.app import create_app
from search.settings import Settings
from tests.search.api.conftest import server_env
from tests.search.recall.embedded.test_corruption import _damaged_copy, _file_of


@pytest.mark.parametrize(("kind", "how"), [("term", "garble"), ("vectors.db", "nan-fill")])
def test_a_damaged_index_fails_readyz_naming_the_file_and_search_answers_json_503(
    api_data_dir: Path, api_settings: Settings, tmp_path: Path, kind: str, how: str
) -> None:
    copy = _damaged_copy(api_data_dir / "index", tmp_path, kind, how)
    settings = api_settings.model_copy(update={"data_dir": copy.parent})
    with TestClient(create_app(settings)) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        index = ready.json()["checks"]["index"]
        assert not index["ok"] and _file_of(copy, kind).name in index["detail"]
        found = client.get("/search", params={"q": "water bottle"})
        assert found.status_code == 503
        error = found.json()["error"]
        assert error["type"] == "IndexCorrupt" and _file_of(copy, kind).name in error["message"]


@pytest.fixture(scope="module")
def panicking_server(
    api_data_dir: Path, test_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A real server on an index whose ``.fast`` file is garbled, with no checksum verified at
    open (SHELF_INDEX_VERIFY_MAX_MB=0): sorted searches make tantivy panic."""
    out = tmp_path_factory.mktemp("panic")
    copy = _damaged_copy(api_data_dir / "index", out, "fast", "garble")
    env = server_env(copy.parent, test_model_dir, SHELF_INDEX_VERIFY_MAX_MB="0")
    server = Server(env, out / "server.log", loglevel="INFO", ready_timeout_s=90)
    yield server.base
    server.stop()


@pytest.mark.slow
def test_an_engine_panic_is_the_json_500_and_the_connection_stays_usable(
    panicking_server: str,
) -> None:
    peers = set()
    with httpx.Client(base_url=panicking_server, timeout=30) as client:
        answers = []
        for query in ("water bottle", "shoes", "bottle", "case"):
            response = client.get("/search", params={"q": query, "sort": "price_asc"})
            answers.append(response)
            stream = response.extensions["network_stream"]
            peers.add(stream.get_extra_info("client_addr"))
        assert client.get("/healthz").status_code == 200
    assert {r.status_code for r in answers} <= {500, 503}
    assert answers[0].status_code == 500
    for response in answers:
        assert response.headers["content-type"] == "application/json"
        assert response.json()["error"]["message"]
        assert response.headers["x-request-id"]
    assert len(peers) == 1 and None not in peers, "the server dropped the keep-alive connection"
