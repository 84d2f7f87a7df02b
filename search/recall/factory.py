"""Which ``Recall`` backend the settings name: the one factory over both implementations.

Apart from ``search.recall`` (the seam) because the backends import the seam's types from
there: the package does not import its own backends, so no module imports one that imports it
back.
"""

from __future__ import annotations

from search.errors import ConfigError
from search.recall import Recall
from search.settings import Settings


def make_recall(settings: Settings) -> Recall:
    """The Recall backend the settings name."""
    if settings.recall_backend == "embedded":
        from search.recall.embedded.backend import EmbeddedRecall

        return EmbeddedRecall(
            settings.index_dir,
            embed_text_max_chars=settings.embed_text_max_chars,
            verify_bytes=settings.index_verify_max_mb << 20,
        )
    if settings.recall_backend == "elasticsearch":
        from search.recall.elastic.backend import ElasticsearchRecall

        if not settings.elasticsearch_url:
            raise ConfigError(
                "SHELF_RECALL_BACKEND=elasticsearch needs SHELF_ELASTICSEARCH_URL, e.g. "
                "http://localhost:9200; or use SHELF_RECALL_BACKEND=embedded"
            )
        return ElasticsearchRecall(
            settings.elasticsearch_url,
            alias=settings.elasticsearch_index,
            embed_text_max_chars=settings.embed_text_max_chars,
        )
    raise ConfigError(
        f"SHELF_RECALL_BACKEND={settings.recall_backend} is unknown; use embedded or elasticsearch"
    )
