"""The real ``cohere`` Python SDK, v1 ``cohere.Client`` and v2 ``cohere.ClientV2`` with
``base_url`` pointing at a real `shelf serve`, authenticating with ``Authorization: Bearer``."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cohere
import httpx
import pytest

from bench.common import Server
from tests.search.api.conftest import API_KEY, server_env
from workers.rerank.model import RerankModel

QUERY = "coffee grinder"


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    """The SDK's HTTP client, closed after the test (the SDK would leave its own open)."""
    with httpx.Client(timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def server(
    api_data_dir: Path, test_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A `shelf serve` on a loopback port, with the tiny model the tests score against."""
    out = tmp_path_factory.mktemp("cohere-sdk")
    env = server_env(api_data_dir, test_model_dir, SHELF_EVENTS_URL=f"sqlite:///{out / 'e.db'}")
    running = Server(env, out / "server.log", ready_timeout_s=60)
    yield running.base
    running.stop()


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


@pytest.mark.slow
def test_cohere_v1_sdk_gets_object_documents_back_whole(
    server: str, http: httpx.Client, rerank_model: RerankModel
) -> None:
    co = cohere.Client(api_key=API_KEY, base_url=server, httpx_client=http)
    documents: list[Any] = [
        {"title": "Burr coffee grinder", "sku": "sku-1"},
        {"title": "Glass tea kettle", "sku": "sku-2"},
    ]
    response = co.rerank(
        model="rerank-multilingual-v3.0",
        query=QUERY,
        documents=documents,
        rank_fields=["title"],
        return_documents=True,
        top_n=1,
    )
    logits = rerank_model.score(QUERY, [f"title: {d['title']}" for d in documents])
    best = max(range(2), key=lambda i: logits[i])
    [result] = response.results
    assert result.index == best
    assert result.relevance_score == pytest.approx(_sigmoid(logits[best]), abs=1e-5)
    assert result.document is not None
    assert result.document.dict() == documents[best]


@pytest.mark.slow
def test_cohere_v2_sdk_ranks_string_documents(
    server: str, http: httpx.Client, rerank_model: RerankModel
) -> None:
    co = cohere.ClientV2(api_key=API_KEY, base_url=server, httpx_client=http)
    texts = ["Burr coffee grinder", "Glass tea kettle", "Espresso machine"]
    response = co.rerank(model="rerank-v3.5", query=QUERY, documents=texts, top_n=3)
    logits = rerank_model.score(QUERY, texts)
    assert [r.index for r in response.results] == sorted(range(3), key=lambda i: -logits[i])
    for result in response.results:
        assert result.relevance_score == pytest.approx(_sigmoid(logits[result.index]), abs=1e-5)
