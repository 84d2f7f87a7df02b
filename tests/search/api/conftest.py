"""The API under test: the real app on ``api_settings`` (tiny model, sample index in tmp, memory
cache, SQLite events)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from search.api.app import Components, create_app
from search.settings import Settings
from tests.conftest import API_KEY
from tests.stores import POSTGRES_URL


@pytest.fixture(scope="session")
def client(api_settings: Settings) -> Iterator[TestClient]:
    """One app for the session, its lifespan run (model loaded and warmed)."""
    with TestClient(create_app(api_settings)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def postgres_client(
    api_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """The app with its events in the real PostgreSQL, in tables of this module only (and a
    spool of its own: what it spools belongs to that store)."""
    settings = api_settings.model_copy(
        update={
            "events_url": POSTGRES_URL,
            "events_table_prefix": f"t{uuid.uuid4().hex[:8]}_",
            "spool_path": tmp_path_factory.mktemp("spool") / "spool.db",
        }
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client
        built: Components = test_client.app.state.components  # type: ignore[attr-defined]
        built.event_log.drop_tables()  # type: ignore[attr-defined]
        built.synonym_store.drop_tables()
        if built.suggestions is not None and built.suggestions.blocks is not None:
            built.suggestions.blocks.drop_table()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_client(
    request: pytest.FixtureRequest, client: TestClient, postgres_client: TestClient
) -> TestClient:
    """The session's app (SQLite events), then the PostgreSQL one."""
    return client if request.param == "sqlite" else postgres_client


@pytest.fixture
def components(client: TestClient) -> Components:
    """The components the app built (event log, pipeline, ...)."""
    built: Components = client.app.state.components  # type: ignore[attr-defined]
    return built


def from_network(client: TestClient, network: int) -> TestClient:
    """A client of the same running app whose peer address is ``10.0.<network>.1``: searches
    from a network of their own (what popularity counts; ``search.events.evidence``)."""
    assert 0 <= network < 256
    return TestClient(client.app, client=(f"10.0.{network}.1", 50000))


def auth() -> dict[str, str]:
    """Headers carrying the right API key."""
    return {"X-API-Key": API_KEY}


def server_env(data_dir: Path, model_dir: Path, **settings: str) -> dict[str, str]:
    """Environment of a real `shelf serve` like the app under test (``settings`` add SHELF_...)."""
    return dict(
        os.environ,
        SHELF_DATA_DIR=str(data_dir),
        SHELF_RERANK_MODEL=str(model_dir),
        SHELF_RERANK_DEVICE="cpu",
        SHELF_SCORE_CACHE="memory",
        SHELF_API_KEY=API_KEY,
        TOKENIZERS_PARALLELISM="false",
        **settings,
    )
