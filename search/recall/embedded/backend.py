"""Recall on an embedded tantivy index: one index on disk, per-language analysis in Python."""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import tantivy

from catalog.locales import LANGUAGES
from catalog.product import Product
from search.errors import RecallUnavailable
from search.recall import (
    IndexFailure,
    PendingText,
    RecallHit,
    RecallLegs,
    SearchFilters,
    StoredVector,
    VectorStatus,
)
from search.recall.embedded import facets as facets_embedded
from search.recall.embedded.dense import DenseIndex
from search.recall.embedded.documents import ids_query, product_document, schema, stored_product
from search.recall.embedded.facets import match_query
from search.recall.embedded.health import (
    VERIFY_BYTES,
    IndexHealth,
    IndexUnopened,
    engine_call,
    open_tantivy,
)
from search.recall.embedded.integrity import MARKER, marker_text
from search.recall.embedded.lexical import STOP_WORD_WEIGHT as STOP_WORD_WEIGHT
from search.recall.embedded.lexical import LexicalQueries
from search.recall.embedded.vectors import DB_NAME, VectorStore, product_row
from search.recall.facets import FacetCounts, MatchEntry, MatchQuery
from search.recall.lexical import (
    Correction,
    LexicalOptions,
)

# 2: the brand_exact filter field (an index of version 1 must be rebuilt).
# 3: word-delimiter analysis (catalog.word_delimiter) and brand keys without delimiters.
# 4: fast fields for the match set (category_path, brand_name, in_stock, created/updated).
# 5: German compounds split (catalog.decompound), Han folded to Simplified, kana variants folded.
SCHEMA_VERSION = 5

WRITER_HEAP_BYTES = 64_000_000

log = logging.getLogger(__name__)


class EmbeddedRecall:
    """The embedded-default Recall: a tantivy index in a directory, and beside it the vector
    store (``vectors.db``, see ``search.recall.embedded.vectors``) the dense leg searches.

    At open its files are checked (``integrity.check_index``: checksums of at most
    ``verify_bytes``, ``None`` for all): a damaged index still opens, but every search raises
    the ``IndexCorrupt`` that names the file. ``read_only`` (default: when ``path`` is not
    writable) opens it without writing anything under ``path``.
    """

    def __init__(
        self,
        path: Path,
        embed_text_max_chars: int = 400,
        *,
        verify_bytes: int | None = VERIFY_BYTES,
        read_only: bool | None = None,
    ) -> None:
        self.path = path
        self.embed_text_max_chars = embed_text_max_chars
        self.read_only = path.exists() and not os.access(path, os.W_OK)
        if read_only is not None:
            self.read_only = read_only
        self._schema = schema()
        self._writer: tantivy.IndexWriter | None = None
        self._lock = threading.Lock()
        self._full = False  # between begin_full and commit_full/abort_full
        self.health = IndexHealth(path)
        self._links: Path | None = None
        self._index: tantivy.Index | None = None
        self._vectors: VectorStore | None = None
        self._lexical = LexicalQueries(self._schema)
        self.health.check_at_open(verify_bytes)
        try:
            self._index, self._links = open_tantivy(
                path, self._schema, SCHEMA_VERSION, read_only=self.read_only
            )
            self._vectors = VectorStore(path / DB_NAME, read_only=self.read_only)
        except RecallUnavailable as exc:
            if not isinstance(exc, IndexUnopened) and self._index is None:
                raise  # a schema version this Shelf cannot read: nothing to serve
            self.health.fault = self.health.fault or exc
            log.error("index unavailable: %s", exc)
            self._index = None
        if self._index is not None and self.health.fault is None and not self.read_only:
            self._backfill_vector_store()
        self._dense = DenseIndex(self._vectors) if self._vectors is not None else None

    def _engine(self, *, vectors_only: bool = False) -> tantivy.Index:
        """The open index, unless damage was found (``IndexHealth.require``)."""
        self.health.require(vectors_only=vectors_only)
        assert self._index is not None  # without an index there is a fault
        return self._index

    def _store(self, *, vectors_only: bool = True) -> VectorStore:
        self._engine(vectors_only=vectors_only)
        assert self._vectors is not None
        return self._vectors

    def _dense_index(self) -> DenseIndex:
        self._engine()
        assert self._dense is not None
        return self._dense

    def _backfill_vector_store(self) -> None:
        """An index built before the dense leg existed (or whose store was lost before its
        first write): give its products their rows. The live store is never empty while tantivy
        holds products, so this runs once."""
        self._engine().reload()
        searcher = self._engine().searcher()
        if not searcher.num_docs or self._store(vectors_only=False).has_products():
            return
        result = searcher.search(tantivy.Query.all_query(), limit=searcher.num_docs, count=False)
        rows = []
        for _score, address in result.hits:
            product = Product.model_validate_json(searcher.doc(address)["source"][0])
            rows.append(product_row(product, self.embed_text_max_chars))
        self._store(vectors_only=False).upsert(rows)

    def _get_writer(self) -> tantivy.IndexWriter:
        if self.read_only:
            raise RecallUnavailable(
                f"the index at {self.path} is read-only here: write from where it is writable"
            )
        if self._writer is None:
            marker = self.path / MARKER
            if not marker.exists():
                marker.write_text(marker_text(SCHEMA_VERSION))
            try:
                self._writer = self._engine().writer(heap_size=WRITER_HEAP_BYTES, num_threads=1)
            except ValueError as exc:
                raise RecallUnavailable(
                    f"cannot write to the index at {self.path} (is another `shelf ingest` "
                    f"running?): {exc}"
                ) from exc
        return self._writer

    @engine_call
    def index(self, products: Sequence[Product]) -> list[IndexFailure]:
        """Upsert products by id and commit, so searches see all of them or none.

        During a full reload nothing is committed until ``commit_full``.
        """
        if not products:
            return []
        with self._lock:
            writer = self._get_writer()
            for product in products:
                # A delete applies to documents added before it, so delete-then-add upserts.
                writer.delete_documents_by_term("id", product.id)
                writer.add_document(product_document(product))
            if not self._full:
                writer.commit()
            # After tantivy's commit: a product row never names a product tantivy lacks.
            self._store(vectors_only=False).upsert(
                [product_row(p, self.embed_text_max_chars) for p in products], staged=self._full
            )
        if not self._full:
            self._engine().reload()
        return []

    @engine_call
    def delete(self, product_ids: Iterable[str]) -> int:
        """Delete products by id and commit."""
        with self._lock:
            writer = self._get_writer()
            ids = list(product_ids)
            for product_id in ids:
                writer.delete_documents_by_term("id", product_id)
            if not self._full:
                writer.commit()
            self._store(vectors_only=False).delete(ids, staged=self._full)
        self._engine().reload()
        return len(ids)

    @engine_call
    def content_hashes(self, product_ids: Sequence[str]) -> dict[str, str]:
        """Stored content hashes of the ids the committed index holds."""
        if not product_ids:
            return {}
        self._engine().reload()
        searcher = self._engine().searcher()
        query = ids_query(self._schema, product_ids)
        result = searcher.search(query, limit=len(product_ids), count=False)
        hashes = {}
        for _score, address in result.hits:
            doc = searcher.doc(address)
            hashes[doc["id"][0]] = doc["content_hash"][0]
        return hashes

    def begin_full(self) -> None:
        """Clear the index in the writer without committing: searches still see the old one."""
        with self._lock:
            # A delete of every document, ordered with the adds that follow (so they survive).
            # Not delete_all_documents: it rewinds tantivy's operation stamps, and after earlier
            # deletes some loads lost their new documents (pinned in
            # tests/search/recall/embedded/test_index.py).
            self._get_writer().delete_documents_by_query(tantivy.Query.all_query())
            self._store(vectors_only=False).begin_full()
            self._full = True

    def commit_full(self) -> None:
        """One commit swaps the old catalog for the new one (tantivy, then the vector store:
        vectors of texts that did not change are kept)."""
        with self._lock:
            self._get_writer().commit()
            self._store(vectors_only=False).commit_full()
            self._full = False
        self._engine().reload()

    def abort_full(self) -> None:
        """Roll the writer back to the last commit: the old catalog, untouched."""
        with self._lock:
            if self._writer is not None:
                self._writer.rollback()
            if self._vectors is not None:
                self._vectors.abort_full()
            self._full = False

    @engine_call
    def count(self) -> int:
        """Number of live products."""
        self._engine().reload()
        return int(self._engine().searcher().num_docs)

    @engine_call
    def languages(self) -> dict[str, int]:
        """Live products per language: one counting term query per language Shelf analyses
        (posting lists of the ``language`` field, deletes honoured)."""
        self._engine().reload()
        searcher = self._engine().searcher()
        held: dict[str, int] = {}
        for code in LANGUAGES:
            query = tantivy.Query.term_query(self._schema, "language", code)
            if found := facets_embedded.count(searcher, query):
                held[code] = found
        return held

    @engine_call
    def search(
        self,
        query: str,
        *,
        limit: int,
        filters: SearchFilters | None = None,
        analyze_as: Sequence[str] | None = None,
        lexical: LexicalOptions | None = None,
    ) -> list[RecallHit]:
        """BM25 top ``limit`` over the boosted text fields, restricted by ``filters``."""
        return self._bm25(query, limit, filters or SearchFilters(), analyze_as, lexical)[0]

    def _bm25(
        self,
        query: str,
        limit: int,
        filters: SearchFilters,
        analyze_as: Sequence[str] | None,
        lexical: LexicalOptions | None,
    ) -> tuple[list[RecallHit], tuple[Correction, ...]]:
        searcher = self._engine().searcher()
        text_query, corrections = self._lexical.query(searcher, query, filters, analyze_as, lexical)
        clauses = [(tantivy.Occur.Must, text_query)]
        clauses += [
            (tantivy.Occur.Must, tantivy.Query.const_score_query(f, 0.0))
            for f in self._filter_queries(filters)
        ]
        bm25_query = tantivy.Query.boolean_query(clauses)
        found = searcher.search(bm25_query, limit=limit + 1, count=False).hits
        if len(found) > limit and found[limit][0] == found[limit - 1][0]:
            found = _through_tie(searcher, bm25_query, found[limit - 1][0], 2 * (limit + 1))
        docs = [(float(score), searcher.doc(address)) for score, address in found]
        # Equal scores by product id, never by where a document happens to sit in the index.
        docs.sort(key=lambda pair: (-pair[0], pair[1]["id"][0]))
        hits = [RecallHit(stored_product(doc["source"][0]), score) for score, doc in docs[:limit]]
        return hits, corrections

    def _lexical_query(
        self,
        query: str,
        filters: SearchFilters,
        analyze_as: Sequence[str] | None,
        lexical: LexicalOptions | None = None,
    ) -> tantivy.Query:
        return self._lexical.query(self._engine().searcher(), query, filters, analyze_as, lexical)[
            0
        ]

    def _match_query(self, match: MatchQuery) -> tantivy.Query:
        return match_query(self._schema, match, self._lexical_query, self._filter_queries)

    @engine_call
    def dense_neighbours(
        self, vector: Sequence[float], floor: float, filters: SearchFilters | None, cap: int
    ) -> tuple[list[tuple[str, float]], bool]:
        """Every product whose cosine reaches ``floor`` (exact), at most ``cap``."""
        return self._dense_index().neighbours(vector, floor, filters, cap)

    @engine_call
    def match_count(self, match: MatchQuery) -> tuple[int, bool]:
        """The match set's size, counted by tantivy (always exact here)."""
        return facets_embedded.count(self._engine().searcher(), self._match_query(match)), True

    @engine_call
    def match_entries(self, match: MatchQuery, *, depth: int | None = None) -> list[MatchEntry]:
        """Every member, or with ``depth`` the lexical top and the neighbours, ranked."""
        searcher, query = self._engine().searcher(), self._match_query(match)
        if depth is None:
            return facets_embedded.entries(searcher, query)
        neighbours = None
        if match.neighbours:
            ids = ids_query(self._schema, match.neighbours)
            neighbours = tantivy.Query.boolean_query(
                [(tantivy.Occur.Must, query), (tantivy.Occur.Must, ids)]
            )
        return facets_embedded.ranked_top(searcher, query, neighbours, depth)

    @engine_call
    def match_window(self, match: MatchQuery, sort: str, start: int, end: int) -> list[MatchEntry]:
        """Positions ``start`` to ``end`` of the match set in ``sort`` order, ties by id."""
        return facets_embedded.sorted_window(
            self._engine().searcher(), self._match_query(match), sort, start, end
        )

    @engine_call
    def facet_counts(
        self,
        match: MatchQuery,
        facets: Sequence[str],
        *,
        price_edges: Sequence[float],
        max_values: int,
    ) -> FacetCounts:
        """Disjunctive counts by tantivy aggregations over fast fields."""
        return facets_embedded.facet_counts(
            self._engine().searcher(),
            match,
            facets,
            self._match_query,
            price_edges=price_edges,
            max_values=max_values,
        )

    @engine_call
    def products(self, product_ids: Sequence[str]) -> dict[str, Product]:
        """The stored products of the given ids, in one query."""
        return self._products(product_ids)

    @engine_call
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
        """BM25 top ``limit`` for ``query`` and exact dense top ``limit`` (cosine, ties by id)
        for ``vector``, both under ``filters``; a leg whose input is ``None`` is empty. With
        typo tolerance on and nothing lexical found, ``did_you_mean`` is offered."""
        filters = filters or SearchFilters()
        bm25: list[RecallHit] = []
        corrections: tuple[Correction, ...] = ()
        suggestion = None
        if query is not None:
            bm25, corrections = self._bm25(query, limit, filters, analyze_as, lexical)
            if not bm25 and lexical is not None and lexical.typos:
                suggestion = self._lexical.did_you_mean(
                    self._engine().searcher(), query, filters, analyze_as
                )
        if vector is None:
            return RecallLegs(bm25, [], corrections, suggestion)
        found = self._dense_index().search(vector, limit, filters)
        products = self._products([product_id for product_id, _score in found])
        dense = [
            RecallHit(products[product_id], bm25_score=0.0, dense_score=score)
            for product_id, score in found
            if product_id in products  # gone from tantivy a moment before the vector store
        ]
        return RecallLegs(bm25, dense, corrections, suggestion)

    def _products(self, product_ids: Sequence[str]) -> dict[str, Product]:
        """The stored products of the given ids, fetched in one query (two when this reader
        lags behind a commit another process made: vectors can name products it has not seen)."""
        found = self._fetch_products(product_ids)
        if len(found) < len(set(product_ids)):
            self._engine().reload()
            found = self._fetch_products(product_ids)
        return found

    def _fetch_products(self, product_ids: Sequence[str]) -> dict[str, Product]:
        if not product_ids:
            return {}
        searcher = self._engine().searcher()
        query = ids_query(self._schema, product_ids)
        result = searcher.search(query, limit=len(product_ids), count=False)
        found = {}
        for _score, address in result.hits:
            product = stored_product(searcher.doc(address)["source"][0])
            found[product.id] = product
        return found

    @engine_call
    def pending_vectors(self, model_id: str, *, limit: int) -> list[PendingText]:
        """Live products, by id, whose embedding text has no vector from ``model_id`` (none
        in a read-only index: their vectors could not be stored)."""
        if self.read_only:
            return []
        return self._store().pending(model_id, limit)

    @engine_call
    def put_vectors(self, model_id: str, vectors: Sequence[StoredVector]) -> int:
        """Store vectors whose text is still the product's (see ``VectorStore.put``)."""
        return self._store().put(model_id, vectors)

    @engine_call
    def vector_status(self) -> VectorStatus:
        """The vectors' model and how many live products have a vector."""
        return self._store().status()

    def drop_vectors(self) -> None:
        """Forget every vector and the model record (and a damage found in their rows)."""
        self._store().drop()
        if self.health.vectors_damaged():
            self.health.fault = None

    def _filter_queries(self, filters: SearchFilters) -> list[tantivy.Query]:
        schema, queries = self._schema, []
        if filters.language:  # a locale filter matches its language (SearchFilters)
            queries.append(tantivy.Query.term_query(schema, "language", filters.language))
        if filters.category:
            queries.append(tantivy.Query.term_query(schema, "category_path", filters.category))
        if filters.brand:
            queries.append(tantivy.Query.term_query(schema, "brand_exact", filters.brand))
        if filters.min_price is not None or filters.max_price is not None:
            queries.append(
                tantivy.Query.range_query(
                    schema,
                    "price",
                    tantivy.FieldType.Float,
                    lower_bound=filters.min_price if filters.min_price is not None else 0.0,
                    upper_bound=filters.max_price if filters.max_price is not None else 1e300,
                )
            )
        if filters.price_below is not None:
            queries.append(
                tantivy.Query.range_query(
                    schema,
                    "price",
                    tantivy.FieldType.Float,
                    lower_bound=None,
                    upper_bound=filters.price_below,
                    include_upper=False,
                )
            )
        if filters.in_stock is not None:
            queries.append(tantivy.Query.term_query(schema, "in_stock", filters.in_stock))
        return queries

    def close(self) -> None:
        """Finish merges and release the writer lock."""
        with self._lock:
            if self._writer is not None:
                self._writer.wait_merging_threads()
                self._writer = None
            if self._vectors is not None:
                self._vectors.close()
            if self._links is not None:
                shutil.rmtree(self._links, ignore_errors=True)


def _through_tie(
    searcher: tantivy.Searcher, query: tantivy.Query, tie: float, fetch: int
) -> list[tuple[float, tantivy.DocAddress]]:
    """Every hit scoring at least ``tie`` (the score that crosses the cut), so the tied ones
    can be chosen by product id: the top grows by doubling until it passes the tie."""
    while True:
        hits = searcher.search(query, limit=fetch, count=False).hits
        if len(hits) < fetch or hits[-1][0] < tie:
            return [(score, address) for score, address in hits if score >= tie]
        fetch *= 2
