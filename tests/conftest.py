"""Fixtures that start real things: tantivy indexes on disk and the tiny FlagEmbedding model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from catalog.ingest import validate
from catalog.product import Product
from catalog.readers import read_jsonl
from catalog.samples import SAMPLE_CATALOG
from search.embedding.backfill import embed_pending
from search.embedding.cache import EmbeddingCache
from search.recall.embedded.backend import EmbeddedRecall
from search.settings import Settings, get_settings
from workers.embedding.model import UseEmbedder
from workers.rerank.model import ModelSpec, RerankModel
from workers.tiny_model import build_test_model, catalog_texts

# Fixtures of the real stores, shared by every test module.
pytest_plugins = ["tests.stores"]


@pytest.fixture(scope="session")
def embed_cache_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One embedding cache for the session: a text is embedded by the real model once, however
    many tests index it."""
    return tmp_path_factory.mktemp("embed-cache") / "embeddings.db"


@pytest.fixture(scope="session", autouse=True)
def _random_weights_allowed() -> Iterator[None]:
    """Tests may rank with the random-weight test model (outside tests Shelf refuses one). Set
    in the environment for the whole session, before any fixture builds a server's or worker's
    environment from it, so the CLIs, servers and workers tests start inherit it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SHELF_ALLOW_RANDOM_WEIGHTS", "1")
        yield


@pytest.fixture(autouse=True)
def _fresh_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, embed_cache_path: Path
) -> Iterator[None]:
    """Each test reads settings anew, with its data under its own tmp_path (the embedding
    cache is shared by the session; the model runs on one thread)."""
    monkeypatch.setenv("SHELF_DATA_DIR", str(tmp_path / "shelf-data"))
    monkeypatch.setenv("SHELF_EMBED_CACHE", str(embed_cache_path))
    monkeypatch.setenv("SHELF_EMBED_THREADS", "1")
    # Tests pin the fused (recall) order unless they ask for a learned ranker themselves
    # (tests/search/ranking/, the one-path test): the shipped default would reorder them.
    monkeypatch.setenv("SHELF_RANKER", "none")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def sample_products() -> list[Product]:
    """Every product of the shipped sample catalog."""
    return [p for p in validate(read_jsonl(SAMPLE_CATALOG)) if isinstance(p, Product)]


@pytest.fixture(scope="session")
def test_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny random-weight XLM-RoBERTa cross-encoder, built once per test session."""
    out = tmp_path_factory.mktemp("test-model")
    return build_test_model(out, catalog_texts(SAMPLE_CATALOG), seed=0)


@pytest.fixture(scope="session")
def rerank_model(test_model_dir: Path) -> RerankModel:
    """The tiny model loaded through Shelf's model path (FlagReranker underneath)."""
    return RerankModel(ModelSpec(str(test_model_dir), device="cpu", allow_random_weights=True))


@pytest.fixture(scope="session")
def sample_index(
    tmp_path_factory: pytest.TempPathFactory, sample_products: list[Product]
) -> Iterator[EmbeddedRecall]:
    """A tantivy index of the whole sample catalog, shared read-only by tests."""
    recall = EmbeddedRecall(tmp_path_factory.mktemp("sample-index"))
    recall.index(sample_products)
    yield recall
    recall.close()


@pytest.fixture(scope="session")
def embedder() -> UseEmbedder:
    """The bundled default embedding model, one thread, warm."""
    model = UseEmbedder(threads=1)
    model.warm_up()
    return model


@pytest.fixture(scope="session")
def hybrid_sample_index(
    tmp_path_factory: pytest.TempPathFactory,
    sample_products: list[Product],
    embedder: UseEmbedder,
    embed_cache_path: Path,
) -> Iterator[EmbeddedRecall]:
    """The sample catalog indexed with every product's vector (the default model): read only."""
    recall = EmbeddedRecall(tmp_path_factory.mktemp("hybrid-index"))
    recall.index(sample_products)
    cache = EmbeddingCache(embed_cache_path)
    report = embed_pending(recall, embedder, batch_size=64, cache=cache)
    cache.close()
    assert report.pending == 0
    yield recall
    recall.close()


@pytest.fixture
def settings_with_test_model(test_model_dir: Path, tmp_path: Path) -> Settings:
    """Settings pointing at the test model and a per-test data directory."""
    return Settings(rerank_model=str(test_model_dir), data_dir=tmp_path / "shelf-data")


def make_product(**fields: object) -> Product:
    """A valid product with overridable fields."""
    record: dict[str, object] = {
        "id": "p-1",
        "locale": "en-US",
        "title": "Stainless steel water bottle",
        "description": "Keeps drinks cold for 24 hours.",
        "brand": "Brookline",
        "category": "Sports > Hydration",
        "bullets": ["750 ml", "Leak-proof lid"],
        "price": 19.99,
        "currency": "USD",
        "in_stock": True,
    }
    record.update(fields)
    return Product.model_validate(record)


TEST_REDIS_DB = 13  # the tests' own Redis database; nothing else on this machine uses it


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The real local Redis, on the tests' own database number."""
    import redis

    url = f"redis://127.0.0.1:6379/{TEST_REDIS_DB}"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis at {url} is not running ({exc}); `make test` starts it")
    return url


@pytest.fixture(scope="session")
def run_prefix() -> str:
    """A prefix unique to this test session, for Redis keys and Celery queues."""
    import uuid

    return f"shelf-test-{uuid.uuid4().hex[:8]}"


API_KEY = "test-key-0123456789"


@pytest.fixture(scope="session")
def api_data_dir(
    tmp_path_factory: pytest.TempPathFactory, sample_products: list[Product], embed_cache_path: Path
) -> Path:
    """A data directory holding an index of the whole sample catalog, with the vectors of the
    bundled embedding model (the real one)."""
    from search.embedding.backfill import embed_pending
    from search.embedding.cache import EmbeddingCache
    from workers.embedding.model import UseEmbedder

    data_dir = tmp_path_factory.mktemp("api-data")
    recall = EmbeddedRecall(data_dir / "index")
    recall.index(sample_products)
    cache = EmbeddingCache(embed_cache_path)
    embed_pending(recall, UseEmbedder(threads=1), batch_size=64, cache=cache)
    cache.close()
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
        ranker="none",  # the fused order the API tests pin (see _fresh_settings)
    )
