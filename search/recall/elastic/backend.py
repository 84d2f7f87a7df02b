"""Recall on Elasticsearch: the production backend, behind an alias that swaps atomically.

Searches and incremental writes go through the alias (``SHELF_ELASTICSEARCH_INDEX``), which
points at one versioned index ``<alias>-<version>``. A full reload builds a new versioned index
while the old one keeps serving, then one ``update_aliases`` call moves the alias and removes the
old index, so searches never see a half-built catalog. Bodies come from ``elastic_bodies`` and,
for the dense leg, ``elastic_vectors``.

Vectors: a full reload's new index starts without vectors (they are not carried over from the
old one), so ``shelf ingest --full`` is also how an index's vectors are rebuilt with another
model; the embedding pass (``pending_vectors``/``put_vectors``) then fills them in behind it.
An incremental write keeps a product's vector while its embedding text is unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from elasticsearch import ApiError, Elasticsearch, NotFoundError, TransportError, helpers

from catalog.product import Product
from search.errors import RecallUnavailable
from search.recall import (
    IndexFailure,
    RecallHit,
    RecallLegs,
    SearchFilters,
    searchable_terms,
)
from search.recall.elastic.bodies import (
    ANALYSIS_PLUGINS,
    bulk_actions,
    content_hashes_body,
    delete_actions,
    index_template_body,
    languages_body,
)
from search.recall.elastic.facets import (
    entries_body,
    facets_body,
    neighbours_body,
    products_body,
    read_entries,
    read_facets,
    read_total,
    window_body,
)
from search.recall.elastic.lexical import did_you_mean, lexical_search_body, read_corrections
from search.recall.elastic.maintenance import VectorMaintenance, versioned_index_name
from search.recall.elastic.vectors import cosine_from_score, knn_body, leg_error, msearch_searches
from search.recall.facets import FacetCounts, MatchEntry, MatchQuery
from search.recall.lexical import Correction, LexicalOptions

BULK_CHUNK_DOCS = 500
BULK_MAX_RETRIES = 5  # per chunk, for documents the cluster answered 429 (too many requests)
BULK_INITIAL_BACKOFF_S = 1.0
BULK_MAX_BACKOFF_S = 30.0


class ElasticsearchRecall(VectorMaintenance):
    """The production Recall: an Elasticsearch cluster, reached with the official client."""

    def __init__(
        self,
        url: str,
        *,
        alias: str = "shelf-products",
        request_timeout: float = 30,
        embed_text_max_chars: int = 400,
    ):
        self.url = url
        self.alias = alias
        self.embed_text_max_chars = embed_text_max_chars
        self._client = Elasticsearch(url, request_timeout=request_timeout, max_retries=1)
        self._staging: str | None = None  # the index a full reload is building
        plugins = self._call("list its plugins", self._installed_plugins)
        self._call("create the index template", self._put_template, plugins)

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (TransportError, ApiError) as exc:
            raise self._unavailable(what, exc) from exc

    def _unavailable(self, what: str, exc: Exception) -> RecallUnavailable:
        return RecallUnavailable(
            f"Elasticsearch at {self.url} failed to {what} ({exc}): check that the cluster is "
            "up (`docker compose up -d elasticsearch`) and SHELF_ELASTICSEARCH_URL points at "
            "it, or use SHELF_RECALL_BACKEND=embedded"
        )

    def _installed_plugins(self) -> frozenset[str]:
        rows: list[dict[str, str]] = self._client.cat.plugins(format="json").body  # type: ignore[assignment]
        return frozenset(row["component"] for row in rows) & frozenset(ANALYSIS_PLUGINS)

    def _put_template(self, plugins: frozenset[str]) -> None:
        body = index_template_body(self.alias, plugins)
        self._client.indices.put_index_template(name=self.alias, **body)

    def _alias_indices(self) -> list[str]:
        try:
            return sorted(self._client.indices.get_alias(name=self.alias).body)
        except NotFoundError:
            return []

    def _on_alias(self, what: str, fn: Any, empty: Any, **kwargs: Any) -> Any:
        """``fn(index=alias, ...)``, or ``empty`` while no catalog exists yet: one round trip
        on the search path instead of looking the alias up first."""
        try:
            return fn(index=self.alias, **kwargs)
        except NotFoundError:
            return empty
        except (TransportError, ApiError) as exc:
            raise self._unavailable(what, exc) from exc

    def _write_index(self) -> str:
        if self._staging:
            return self._staging
        if not self._call("look up the alias", self._alias_indices):
            index = versioned_index_name(self.alias)
            self._call("create the first index", self._client.indices.create,
                       index=index, aliases={self.alias: {}})  # fmt: skip
        return self.alias

    def _bulk(self, actions: Iterable[dict[str, Any]]) -> list[tuple[bool, dict[str, Any]]]:
        return list(
            helpers.streaming_bulk(
                self._client,
                actions,
                chunk_size=BULK_CHUNK_DOCS,
                max_retries=BULK_MAX_RETRIES,
                initial_backoff=BULK_INITIAL_BACKOFF_S,
                max_backoff=BULK_MAX_BACKOFF_S,
                raise_on_error=False,
            )
        )

    def index(self, products: Sequence[Product]) -> list[IndexFailure]:
        """Bulk-upsert products; each document the cluster refuses comes back as a failure."""
        if not products:
            return []
        target = self._write_index()
        actions = bulk_actions(products, target, embed_max_chars=self.embed_text_max_chars,
                               keep_vectors=not self._staging)  # fmt: skip
        results = self._call("index products", self._bulk, actions)
        failures = [
            IndexFailure(str(item.get("_id")), str(item.get("error")))
            for ok, info in results
            if not ok
            for item in info.values()
        ]
        if not self._staging:
            self._call("refresh the index", self._client.indices.refresh, index=self.alias)
        return failures

    def delete(self, product_ids: Iterable[str]) -> int:
        """Delete products by id (absent ids are not an error); return how many were asked."""
        ids = list(product_ids)
        if ids and self._call("look up the alias", self._alias_indices):
            target = self._staging or self.alias
            self._call("delete products", self._bulk, delete_actions(ids, target))
            self._call("refresh the index", self._client.indices.refresh, index=target)
        return len(ids)

    def content_hashes(self, product_ids: Sequence[str]) -> dict[str, str]:
        """Stored content hashes of the ids the live catalog (the alias) holds."""
        if not product_ids:
            return {}
        body = content_hashes_body(product_ids)
        response = self._on_alias("read content hashes", self._client.search, None, body=body)
        if response is None:
            return {}
        return {hit["_id"]: hit["_source"]["content_hash"] for hit in response["hits"]["hits"]}

    def search(
        self,
        query: str,
        *,
        limit: int,
        filters: SearchFilters | None = None,
        analyze_as: Sequence[str] | None = None,
        lexical: LexicalOptions | None = None,
    ) -> list[RecallHit]:
        """BM25 top ``limit`` through the alias, restricted by ``filters``."""
        searchable_terms(query, filters, analyze_as)  # refuses a query with nothing to search
        body = lexical_search_body(query, filters, limit, lexical, analyze_as)
        response = self._on_alias("search", self._client.search, None, body=body)
        if response is None:
            return []
        return _bm25_hits(response)

    def count(self) -> int:
        """Number of products the live catalog holds."""
        response = self._on_alias("count", self._client.count, None)
        return 0 if response is None else int(response["count"])

    def languages(self) -> dict[str, int]:
        """Live products per language, by a ``terms`` aggregation (``languages_body``)."""
        body = languages_body()
        response = self._on_alias("count languages", self._client.search, None, body=body)
        if response is None:
            return {}
        buckets = response["aggregations"]["languages"]["buckets"]
        return {str(b["key"]): int(b["doc_count"]) for b in buckets if b["doc_count"]}

    def begin_full(self) -> None:
        """Create a new versioned index, not behind the alias yet; no refresh while loading."""
        self._staging = versioned_index_name(self.alias)
        self._call("create the new index", self._client.indices.create,
                   index=self._staging, settings={"refresh_interval": "-1"})  # fmt: skip

    def commit_full(self) -> None:
        """Refresh the new index, then move the alias to it and drop the old ones atomically."""
        staging, self._staging = self._staging, None
        if staging is None:
            return
        client = self._client
        self._call("re-enable refresh", client.indices.put_settings,
                   index=staging, settings={"refresh_interval": None})  # fmt: skip
        self._call("refresh the new index", client.indices.refresh, index=staging)
        old = self._call("look up the alias", self._alias_indices)
        actions: list[dict[str, Any]] = [{"add": {"index": staging, "alias": self.alias}}]
        actions += [{"remove_index": {"index": index}} for index in old]
        self._call("swap the alias", client.indices.update_aliases, actions=actions)

    def abort_full(self) -> None:
        """Delete the half-built index; the alias never pointed at it."""
        staging, self._staging = self._staging, None
        if staging is not None:
            self._call("delete the unfinished index", self._client.indices.delete,
                       index=staging, ignore_unavailable=True)  # fmt: skip

    def search_legs(
        self,
        query: str | None,
        vector: Sequence[float] | None,
        *,
        limit: int,
        filters: SearchFilters | None = None,
        analyze_as: Sequence[str] | None = None,
        lexical: LexicalOptions | None = None,
    ) -> RecallLegs:
        """Both legs in one ``_msearch`` round trip (a leg whose input is ``None`` is left out):
        BM25 as ``search``, and kNN over the same filters, scored by cosine. The BM25 leg's
        term suggesters say which words were corrected (``elastic_lexical``)."""
        legs: dict[str, dict[str, Any]] = {}
        if query is not None:
            searchable_terms(query, filters, analyze_as)  # refuses a query with nothing to search
            legs["bm25"] = lexical_search_body(query, filters, limit, lexical, analyze_as)
        if vector is not None:
            legs["dense"] = knn_body(vector, filters, limit)
        if not legs:
            return RecallLegs([], [])
        searches = msearch_searches(legs.values())
        response = self._on_alias("search", self._client.msearch, None, searches=searches)
        found: dict[str, list[RecallHit]] = {"bm25": [], "dense": []}
        corrections: tuple[Correction, ...] = ()
        if response is None:  # no catalog yet
            return RecallLegs([], [])
        for leg, item in zip(legs, response["responses"], strict=True):
            failure = leg_error(self.alias, item)
            if failure and failure[0] == "other":
                raise self._unavailable(f"search ({leg} leg)", RuntimeError(failure[1]))
            if failure is None:
                found[leg] = _bm25_hits(item) if leg == "bm25" else _dense_hits(item)
            if failure is None and leg == "bm25" and query is not None:
                corrections = read_corrections(item, query)
        suggestion = None
        if query is not None and not found["bm25"] and lexical is not None and lexical.typos:
            suggestion = did_you_mean(query, corrections)
        return RecallLegs(found["bm25"], found["dense"], corrections, suggestion)

    def dense_neighbours(
        self, vector: Sequence[float], floor: float, filters: SearchFilters | None, cap: int
    ) -> tuple[list[tuple[str, float]], bool]:
        """The kNN neighbours whose cosine reaches ``floor`` (HNSW: approximate), at most cap."""
        body = neighbours_body(vector, floor, filters, cap)
        response = self._on_alias("search", self._client.search, None, body=body)
        if response is None:
            return [], False
        hits = response["hits"]["hits"]
        found = [(h["_id"], cosine_from_score(float(h["_score"]))) for h in hits]
        found.sort(key=lambda hit: (-hit[1], hit[0]))
        return found, len(found) >= cap

    def match_count(self, match: MatchQuery) -> tuple[int, bool]:
        """The total of a ``size: 0`` search (a lower bound past ``TRACK_TOTAL_HITS``)."""
        body = facets_body(match, (), price_edges=())
        response = self._on_alias("search", self._client.search, None, body=body)
        return (0, True) if response is None else read_total(response)

    def match_entries(self, match: MatchQuery, *, depth: int | None = None) -> list[MatchEntry]:
        """Every member, by ``search_after`` over the id (``depth`` is not used)."""
        found: list[MatchEntry] = []
        after: str | None = None
        while True:
            body = entries_body(match, after)
            response = self._on_alias("search", self._client.search, None, body=body)
            batch = [] if response is None else read_entries(response)
            found += batch
            if len(batch) < body["size"]:
                return found
            after = batch[-1].product_id

    def match_window(self, match: MatchQuery, sort: str, start: int, end: int) -> list[MatchEntry]:
        """One sorted page: ``sort`` on the field, then the id, with from/size."""
        body = window_body(match, sort, start, end)
        response = self._on_alias("search", self._client.search, None, body=body)
        return [] if response is None else read_entries(response)

    def facet_counts(
        self,
        match: MatchQuery,
        facets: Sequence[str],
        *,
        price_edges: Sequence[float],
        max_values: int,
    ) -> FacetCounts:
        """Disjunctive counts: aggregations under the other facets' filters, post_filter."""
        body = facets_body(match, facets, price_edges=price_edges)
        response = self._on_alias("search", self._client.search, None, body=body)
        if response is None:
            return {facet: [] for facet in facets}
        return read_facets(response, facets, price_edges, max_values)

    def products(self, product_ids: Sequence[str]) -> dict[str, Product]:
        """The stored products of the given ids."""
        if not product_ids:
            return {}
        body = products_body(product_ids)
        response = self._on_alias("search", self._client.search, None, body=body)
        hits = [] if response is None else _bm25_hits(response)
        return {hit.product.id: hit.product for hit in hits}

    def close(self) -> None:
        """Close the client's connections."""
        self._client.close()


def _bm25_hits(response: Any) -> list[RecallHit]:
    return [
        RecallHit(Product.model_validate(hit["_source"]["product"]), float(hit["_score"]))
        for hit in response["hits"]["hits"]
    ]


def _dense_hits(response: Any) -> list[RecallHit]:
    return [
        RecallHit(
            Product.model_validate(hit["_source"]["product"]),
            0.0,
            cosine_from_score(float(hit["_score"])),
        )
        for hit in response["hits"]["hits"]
    ]
