"""The embedding pass's side of ``ElasticsearchRecall``: which products still need a vector,
storing vectors, counting them, and dropping them. A mixin, so the backend stays one class
behind the Recall protocol; bodies come from ``elastic_vectors``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from elasticsearch import Elasticsearch

from search.errors import EmbeddingMismatch, RecallUnavailable
from search.recall import PendingText, StoredVector, VectorStatus
from search.recall.elastic.vectors import (
    MAX_PAGE,
    REBUILD,
    VectorMapping,
    check_model,
    drop_vectors_reindex_body,
    model_meta,
    pending_body,
    put_vector_actions,
    vector_mapping,
    vector_status_body,
)

REINDEX_TIMEOUT_S = 3600.0  # drop_vectors copies the whole catalog in one request


def versioned_index_name(alias: str) -> str:
    """A new index name behind ``alias``: ``<alias>-<utc timestamp>-<random>``."""
    return f"{alias}-{time.strftime('%Y%m%d%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:6]}"


class VectorMaintenance:
    """``pending_vectors``, ``put_vectors``, ``vector_status``, ``drop_vectors`` over the alias.

    The host class supplies the client, the alias and the error-mapping helpers declared here.
    """

    alias: str
    _client: Elasticsearch

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def _unavailable(self, what: str, exc: Exception) -> RecallUnavailable:
        raise NotImplementedError

    def _on_alias(self, what: str, fn: Any, empty: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def _alias_indices(self) -> list[str]:
        raise NotImplementedError

    def _bulk(self, actions: Iterable[dict[str, Any]]) -> list[tuple[bool, dict[str, Any]]]:
        raise NotImplementedError

    def _vector_mapping(self) -> VectorMapping | None:
        """The live index's vector mapping, or None while no catalog exists."""
        response = self._on_alias("read the mapping", self._client.indices.get_mapping, None)
        return None if response is None else vector_mapping(response.body)

    def pending_vectors(self, model_id: str, *, limit: int) -> list[PendingText]:
        """Up to ``limit`` live products without a vector, by id, with their embedding text."""
        mapping = self._vector_mapping()
        if mapping is None or limit <= 0:
            return []
        check_model(self.alias, mapping, model_id)
        pending: list[PendingText] = []
        after: str | None = None
        while len(pending) < limit:
            body = pending_body(min(limit - len(pending), MAX_PAGE), after)
            response = self._on_alias("find products without vectors", self._client.search,
                                      None, body=body)  # fmt: skip
            hits = response["hits"]["hits"] if response else []
            pending += [
                PendingText(hit["_id"], hit["_source"]["embed_text_hash"],
                            hit["_source"]["embed_text"], hit["_source"].get("language", ""))
                for hit in hits
            ]  # fmt: skip
            if len(hits) < body["size"]:
                break
            after = hits[-1]["sort"][0]
        return pending

    def put_vectors(self, model_id: str, vectors: Sequence[StoredVector]) -> int:
        """Store vectors whose product text is unchanged; record ``model_id`` in the mapping's
        ``_meta`` before the first one. Products deleted meanwhile are skipped."""
        mapping = self._vector_mapping()
        if mapping is None or not vectors:
            return 0
        check_model(self.alias, mapping, model_id)
        if mapping.model_id is None:
            self._call("record the embedding model", self._client.indices.put_mapping,
                       index=self.alias, meta=model_meta(model_id))  # fmt: skip
        results = self._call("store vectors", self._bulk, put_vector_actions(vectors, self.alias))
        items = [(ok, item) for ok, info in results for item in info.values()]
        refused = [item for ok, item in items if not ok and item.get("status") != 404]
        if refused:
            reason = str(refused[0].get("error"))
            if "dimensions" in reason:
                raise EmbeddingMismatch(
                    f"the index {self.alias} refused {len(refused)} vectors from {model_id} "
                    f"({reason}): its vectors have another dimension; {REBUILD}"
                )
            raise self._unavailable(f"store {len(refused)} vectors", RuntimeError(reason))
        self._call("refresh the index", self._client.indices.refresh, index=self.alias)
        return sum(1 for ok, item in items if ok and item.get("result") == "updated")

    def vector_status(self) -> VectorStatus:
        """The live index's embedding model and dimension, and how many products have a vector."""
        mapping = self._vector_mapping()
        response = self._on_alias("count vectors", self._client.search, None,
                                  body=vector_status_body())  # fmt: skip
        if mapping is None or response is None:
            return VectorStatus(None, None, 0, 0)
        total = int(response["hits"]["total"]["value"])
        with_vector = int(response["aggregations"]["with_vector"]["doc_count"])
        return VectorStatus(mapping.model_id, mapping.dim, with_vector, total - with_vector)

    def drop_vectors(self) -> None:
        """Copy the catalog into a new index without its vectors (``_reindex``), then swap the
        alias to it. Not ``update_by_query``: a vector field's ``dims`` can never change once set,
        so only a new index can take vectors from a model of another dimension. Writes made
        while it copies are lost, as during a full reload: run it while nothing ingests."""
        old = self._call("look up the alias", self._alias_indices)
        if not old:
            return
        new = versioned_index_name(self.alias)
        client = self._client
        self._call("create the new index", client.indices.create, index=new)
        try:
            response = self._call(
                "copy the catalog without vectors",
                client.options(request_timeout=REINDEX_TIMEOUT_S).reindex,
                **drop_vectors_reindex_body(self.alias, new),
                wait_for_completion=True,
                refresh=True,
            )
            if response["failures"]:
                raise self._unavailable("copy the catalog", RuntimeError(response["failures"][0]))
        except RecallUnavailable:
            self._call("delete the unfinished index", client.indices.delete,
                       index=new, ignore_unavailable=True)  # fmt: skip
            raise
        actions: list[dict[str, Any]] = [{"add": {"index": new, "alias": self.alias}}]
        actions += [{"remove_index": {"index": index}} for index in old]
        self._call("swap the alias", client.indices.update_aliases, actions=actions)
