"""The API under test: the real app on ``api_settings`` (tiny model, sample index in tmp, memory
cache, SQLite events)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from search.api.app import Components, create_app
from search.settings import Settings
from tests.conftest import API_KEY


@pytest.fixture(scope="session")
def client(api_settings: Settings) -> Iterator[TestClient]:
    """One app for the session, its lifespan run (model loaded and warmed)."""
    with TestClient(create_app(api_settings)) as test_client:
        yield test_client


@pytest.fixture
def components(client: TestClient) -> Components:
    """The components the app built (event log, pipeline, ...)."""
    built: Components = client.app.state.components  # type: ignore[attr-defined]
    return built


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
