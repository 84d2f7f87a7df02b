"""The API under test: the real app (tiny model, sample index in tmp, memory cache, SQLite)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from catalog.product import Product
from search.api.app import Components, create_app
from search.recall.embedded import EmbeddedRecall
from search.settings import Settings

API_KEY = "test-key-0123456789"


@pytest.fixture(scope="session")
def api_data_dir(tmp_path_factory: pytest.TempPathFactory, sample_products: list[Product]) -> Path:
    """A data directory holding an index of the whole sample catalog."""
    data_dir = tmp_path_factory.mktemp("api-data")
    recall = EmbeddedRecall(data_dir / "index")
    recall.index(sample_products)
    recall.close()
    return data_dir


@pytest.fixture(scope="session")
def api_settings(api_data_dir: Path, test_model_dir: Path) -> Settings:
    """Settings of the app under test: everything embedded, an API key set."""
    return Settings(
        data_dir=api_data_dir,
        rerank_model=str(test_model_dir),
        rerank_device="cpu",
        score_cache="memory",
        api_key=API_KEY,  # type: ignore[arg-type]
    )


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
