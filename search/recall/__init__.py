"""The Recall seam, as small protocols by role, one backend (tantivy or Elasticsearch) behind all:

- ``ProductIndex``: index, delete, count and look up products; ``content_hashes`` so bulk ingest
  skips the unchanged above the seam, ``index`` returning the per-document failures;
- ``FullReload``: ``begin_full``/``commit_full``/``abort_full``, a full reload built out of sight
  and made live in one atomic step (a single tantivy commit; an Elasticsearch alias swap);
- ``Retriever``: the BM25 and dense top-K of one query, and the catalog's languages;
- ``MatchSet``: everything a query matches: its size, members, sorted windows and facet counts;
- ``VectorStore``: the embedding vectors, written by ``shelf embed`` and the workers.

``Recall`` is all of them (and ``close``): what ``make_recall`` returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from catalog.analysis import query_languages, query_terms
from catalog.product import Product
from search.errors import InvalidQuery, InvalidVector
from search.recall.filters import SearchFilters as SearchFilters
from search.recall.filters import brand_key as brand_key

if TYPE_CHECKING:
    from search.recall.facets import FacetCounts, MatchEntry, MatchQuery
    from search.recall.lexical import Correction, LexicalOptions

# Field boosts, shared by both backends: what a product *is* (title, brand) counts double.
# Tuned with `shelf eval` on the embedded backend and the sample judged set (README,
# "Evaluation"): shoppers describe needs ("something to keep my phone steady") that product copy
# answers, so the description weighs as much as the bullets, and flatter boosts than title 3 /
# description 0.7 ranked better in every language but Russian.
FIELD_BOOSTS: dict[str, float] = {
    "title": 2.0,
    "alt_titles": 2.0,
    "brand": 2.0,
    "category": 1.0,
    "bullets": 1.0,
    "description": 1.0,
}
# Per term, the best field counts fully and the others a little (Lucene's dismax tie-breaker):
# a term in the title and the description beats one only in the title, but not by much.
TIE_BREAKER = 0.1


@dataclass(frozen=True)
class IndexFailure:
    """A product the backend refused to index, and the backend's reason."""

    product_id: str
    reason: str


def searchable_terms(
    query: str, filters: SearchFilters | None, analyze_as: Sequence[str] | None = None
) -> tuple[tuple[str, ...], list[str]]:
    """The languages the query is analysed as and its analysed terms; ``InvalidQuery`` when
    nothing searchable is left. Both backends call it.

    The languages are ``analyze_as`` (the query's stated or detected languages) when given, else
    the locale filter's, else every language its script may be written in. They decide only how
    the text is analysed, never which products are eligible: that is the filters' job.
    """
    if analyze_as:
        languages: Sequence[str] = tuple(analyze_as)
    elif filters and filters.locale:
        languages = (filters.locale,)
    else:
        languages = query_languages(query)
    terms = query_terms(query, languages)
    if not terms:
        raise InvalidQuery(f"query {query!r} has no searchable words")
    return tuple(languages), terms


@dataclass(frozen=True)
class RecallHit:
    """One recalled candidate: its BM25 score (0.0 when the lexical leg did not find it) and,
    from the dense leg, its cosine similarity to the query vector."""

    product: Product
    bm25_score: float
    dense_score: float | None = None


@dataclass(frozen=True)
class RecallLegs:
    """What each recall leg found for one query, best first: fused above the seam. With
    ``LexicalOptions``, also the words the lexical leg corrected and, when it found nothing, a
    "did you mean" from the catalog's vocabulary."""

    bm25: list[RecallHit]
    dense: list[RecallHit]
    corrections: tuple[Correction, ...] = ()
    did_you_mean: str | None = None


@dataclass(frozen=True)
class PendingText:
    """A live product whose embedding text has no vector from the index's model yet."""

    product_id: str
    text_hash: str  # sha256 of ``text``; a vector is stored against it
    text: str  # ``catalog.text.embed_text`` of the product
    language: str = ""  # the product's language code (vectors are centred on it)


@dataclass(frozen=True)
class StoredVector:
    """A vector computed for a product's embedding text, ready to be written to the index."""

    product_id: str
    text_hash: str  # the hash of the text it was computed from (stale ones are not stored)
    vector: Sequence[float]  # L2-normalised, the model's dimension

    def __post_init__(self) -> None:
        """``InvalidVector`` unless the vector is a non-empty list of finite numbers, not all
        zero (checked here, once, for every backend)."""
        array = np.asarray(self.vector, dtype=np.float64)
        if array.ndim != 1 or not array.size or not np.isfinite(array).all() or not array.any():
            raise InvalidVector(
                f"the vector of {self.product_id} must be a non-empty list of finite numbers, "
                "not all zero (the embedding model returned NaN, infinity or zeros): nothing "
                "of this batch was stored"
            )


@dataclass(frozen=True)
class VectorStatus:
    """Which embedding model built the index's vectors, and how many live products have one."""

    model_id: str | None  # None until a first vector is stored
    dim: int | None
    with_vector: int
    without_vector: int


class ProductIndex(Protocol):
    """Storage: products written, replaced, deleted, counted and looked up by id (Haystack's
    ``DocumentStore``). Bulk ingest writes through it; pages and rules checks read from it."""

    def index(self, products: Sequence[Product]) -> list[IndexFailure]:
        """Insert or replace (by id) the given products; return those that could not be written."""
        ...

    def delete(self, product_ids: Iterable[str]) -> int:
        """Remove products by id; return how many ids were asked for deletion."""
        ...

    def content_hashes(self, product_ids: Sequence[str]) -> dict[str, str]:
        """The stored content hash of each given id the live catalog holds (absent ids omitted)."""
        ...

    def products(self, product_ids: Sequence[str]) -> dict[str, Product]:
        """The stored products of the given ids (absent ids omitted)."""
        ...

    def count(self) -> int:
        """How many products the index holds."""
        ...


class FullReload(Protocol):
    """A full reload built out of sight and made live in one step (a single tantivy commit; an
    Elasticsearch alias swap): what ``shelf ingest --full`` needs beside ``ProductIndex``."""

    def begin_full(self) -> None:
        """Start a full reload: later ``index`` calls build a new, empty catalog out of sight.

        Searches, ``count`` and ``content_hashes`` keep answering from the live catalog until
        ``commit_full``.
        """
        ...

    def commit_full(self) -> None:
        """Make the catalog built since ``begin_full`` live in one step, dropping the old one."""
        ...

    def abort_full(self) -> None:
        """Discard the catalog built since ``begin_full``; the live one stays as it was."""
        ...


class Retriever(Protocol):
    """Retrieval: the top-K of each recall leg for one query, and the languages to read it in."""

    def search(
        self,
        query: str,
        *,
        limit: int,
        filters: SearchFilters | None = None,
        analyze_as: Sequence[str] | None = None,
        lexical: LexicalOptions | None = None,
    ) -> list[RecallHit]:
        """The top ``limit`` products for ``query`` by BM25, best first; ``analyze_as`` as in
        ``searchable_terms``; ``lexical``: synonyms and typo tolerance (None: neither)."""
        ...

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
        """The BM25 top ``limit`` for ``query`` and the dense top ``limit`` (cosine, exact under
        the filters) for ``vector``, in one call (one ``_msearch`` round trip on Elasticsearch).
        ``lexical`` as in ``search``; the legs report the corrections it made.
        A leg whose input is ``None`` comes back empty. Products without a vector are found by
        BM25 only. ``EmbeddingMismatch`` when ``vector`` has another dimension than the index's.
        """
        ...

    def languages(self) -> dict[str, int]:
        """How many live products each language (code) of the catalog has; languages it holds
        none of are left out. Cheap enough to ask every few seconds (one aggregation)."""
        ...


class MatchSet(Protocol):
    """The whole set a query matches, beyond the top-K: its size, members, sorted windows and
    disjunctive facet counts, and the dense neighbours that join it."""

    def match_count(self, match: MatchQuery) -> tuple[int, bool]:
        """The size of the match set, and whether it is exact (False: a lower bound)."""
        ...

    def match_entries(self, match: MatchQuery, *, depth: int | None = None) -> list[MatchEntry]:
        """The members of the match set (in no particular order): id, BM25 score, price,
        created_at. Every member; or, with ``depth``, at least the ``depth`` first lexical
        members by (-score, id) and every dense neighbour, each lexical one with its exact
        ``bm25_rank`` over the whole set (a backend may return every member instead)."""
        ...

    def match_window(self, match: MatchQuery, sort: str, start: int, end: int) -> list[MatchEntry]:
        """Positions ``start`` to ``end`` (0-based, end excluded) of the match set ordered by
        ``sort`` (a key of ``search.recall.facets.SORT_FIELDS``), ties by product id."""
        ...

    def facet_counts(
        self,
        match: MatchQuery,
        facets: Sequence[str],
        *,
        price_edges: Sequence[float],
        max_values: int,
    ) -> FacetCounts:
        """Disjunctive counts over the match set: each facet in ``facets`` counted under every
        filter but its own (``search.recall.facets.disjunctive_groups``)."""
        ...

    def dense_neighbours(
        self, vector: Sequence[float], floor: float, filters: SearchFilters | None, cap: int
    ) -> tuple[list[tuple[str, float]], bool]:
        """Every ``(product_id, cosine)`` under ``filters`` whose cosine reaches ``floor``, best
        first, ties by id, at most ``cap``; and whether ``cap`` cut it short."""
        ...


class VectorStore(Protocol):
    """The products' embedding vectors: which texts lack one, storing them, the model's status."""

    def pending_vectors(self, model_id: str, *, limit: int) -> list[PendingText]:
        """Up to ``limit`` live products, by id, whose embedding text has no vector from
        ``model_id``; ``EmbeddingMismatch`` when the index's vectors come from another model."""
        ...

    def put_vectors(self, model_id: str, vectors: Sequence[StoredVector]) -> int:
        """Store vectors computed by ``model_id``; return how many were stored. A vector whose
        ``text_hash`` no longer matches the product's text (it changed meanwhile) is skipped.
        ``EmbeddingMismatch`` when the index already holds vectors from another model."""
        ...

    def vector_status(self) -> VectorStatus:
        """The embedding model of the live catalog's vectors and how many products lack one."""
        ...

    def drop_vectors(self) -> None:
        """Forget every vector and the model that made them (``shelf embed --rebuild``)."""
        ...


class Recall(ProductIndex, FullReload, Retriever, MatchSet, VectorStore, Protocol):
    """The whole seam, one backend behind every role: tantivy or Elasticsearch. Hand a caller
    only the role it uses; whoever opens a backend holds the ``Recall`` and closes it."""

    def close(self) -> None:
        """Release writers and files."""
        ...
