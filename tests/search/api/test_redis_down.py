"""A Redis score cache that is down is reported, not a reason to take the server out: a real
``redis-server`` of this module's own, stopped under the app."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from search.api.app import create_app
from search.settings import Settings


class PrivateRedis:
    """A ``redis-server`` on a free loopback port, nothing persisted; ``stop`` kills it."""

    def __init__(self, folder: Path) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        deadline = time.monotonic() + 30
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start in 30 s"
                time.sleep(0.05)
        client.close()

    def stop(self) -> None:
        """Kill the server and wait for it."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def redis_down(
    api_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, dict[str, object]]]:
    """The app with its score cache in a private Redis, which is then stopped; the client and
    the readiness body from before the stop."""
    folder = tmp_path_factory.mktemp("redis")
    server = PrivateRedis(folder)
    settings = api_settings.model_copy(
        update={"score_cache": "redis", "redis_url": server.url, "last_good_dir": folder / "lg"}
    )
    try:
        with TestClient(create_app(settings)) as client:
            before = client.get("/readyz").json()
            server.stop()
            yield client, before
    finally:
        server.stop()


def test_readyz_stays_200_with_redis_down_and_says_so_in_its_body(
    redis_down: tuple[TestClient, dict[str, object]],
) -> None:
    client, before = redis_down
    response = client.get("/readyz")
    body = response.json()
    assert before["checks"]["redis"]["ok"] is True  # type: ignore[index]
    assert response.status_code == 200, body
    assert body["ready"] is True
    assert body["checks"]["redis"]["ok"] is False
    assert body["checks"]["redis"]["required"] is False
    assert "without the score cache" in body["checks"]["redis"]["detail"]


def test_metrics_show_redis_down(redis_down: tuple[TestClient, dict[str, object]]) -> None:
    client, _ = redis_down
    text = client.get("/metrics").text
    assert 'shelf_dependency_up{dependency="redis"} 0.0' in text
    assert 'shelf_dependency_up{dependency="event_store"} 1.0' in text


def test_search_answers_with_redis_down(redis_down: tuple[TestClient, dict[str, object]]) -> None:
    client, _ = redis_down
    response = client.get("/search", params={"q": "coffee"})
    assert response.status_code == 200, response.text
    assert response.json()["items"]
