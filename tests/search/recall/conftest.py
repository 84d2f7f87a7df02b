"""The backends every recall contract suite runs on: the ``recall`` fixture, embedded always,
Elasticsearch when SHELF_ELASTICSEARCH_URL names a live cluster (skipped otherwise, with the
reason). A contract module holds the behaviour tests of one role; the backends only supply this
fixture."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from search.recall import Recall
from search.recall.embedded.backend import EmbeddedRecall
from search.settings import Settings
from tests.conftest import make_product


@pytest.fixture(params=["embedded", pytest.param("elasticsearch", marks=pytest.mark.elasticsearch)])
def recall(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Recall]:
    if request.param == "embedded":
        backend: Recall = EmbeddedRecall(tmp_path / "index")
        yield backend
        backend.close()
        return
    url = Settings().elasticsearch_url
    if not url:
        pytest.skip("needs a live Elasticsearch cluster: set SHELF_ELASTICSEARCH_URL")
    from search.recall.elastic.backend import ElasticsearchRecall

    # A throwaway alias per test, so tests never see each other's products.
    elastic = ElasticsearchRecall(url, alias=f"shelf-test-{uuid.uuid4().hex[:10]}")
    yield elastic
    # Wildcard deletes are refused by default (action.destructive_requires_name): name them.
    indices = list(elastic._client.indices.get(index=f"{elastic.alias}-*").body)
    if indices:
        elastic._client.indices.delete(index=",".join(indices))
    elastic._client.indices.delete_index_template(name=elastic.alias)
    elastic.close()


@pytest.fixture
def shop(recall: Recall) -> Recall:
    """Five products, four of them red: the match-set suite's catalog."""
    recall.index(
        [
            make_product(id="a", title="Red mug", brand="Acme", price=5.0,
                         category="Kitchen > Mugs", created_at="2024-03-01T00:00:00Z"),
            make_product(id="b", title="Red mug large", brand="ACME", price=10.0,
                         category="Kitchen > Mugs", in_stock=False),
            make_product(id="c", title="Red teapot", brand="Brewer", price=19.99,
                         category="Kitchen > Teapots", created_at="2025-01-01T00:00:00+02:00"),
            make_product(id="d", title="Red scarf", brand="Knit", price=20.0,
                         category="Clothing"),
            make_product(id="e", title="Blue cup", brand="Acme", price=7.0,
                         category="Kitchen > Mugs"),
        ]
    )  # fmt: skip
    return recall
