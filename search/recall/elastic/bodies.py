"""The request bodies of the Elasticsearch backend, as pure functions the tests pin exactly.

Per-language analysis is done with **per-language subfields chosen at index time**: a product's
text goes to ``title.<lang>``, ``description.<lang>`` ... for the language of its locale only, and
each ``.<lang>`` subfield has that language's analyzer: the same analysis as the embedded
backend's ``catalog.analysis``, rebuilt with Elasticsearch's own filters (word delimiter, stemmer,
German compounds, Han and kana folding), in ``search.recall.elastic.analysis``.

A query searches the fields of the language of its locale filter, or of every language when it
has none (a bare "coffee" can then match an en-US and a de-DE product). Localized titles are
indexed under ``alt_titles.<their language>``. Queries are ``multi_match`` only (never
``query_string``), so shoppers' text cannot inject query syntax. The product itself travels in
``product``, stored but not indexed, and comes back whole with each hit.

The dense leg's fields (``VECTOR_PROPERTIES``) and request bodies are in ``elastic_vectors``.
A product written incrementally keeps its stored vector when its embedding text is unchanged: the
write is a scripted upsert (``REPLACE_KEEPING_VECTOR``), not a plain index, because a plain index
replaces the whole document and would drop the vector.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from catalog.locales import LANGUAGES, language_of
from catalog.product import Product
from catalog.text import content_hash, embed_text, text_hash
from search.recall import FIELD_BOOSTS, TIE_BREAKER, SearchFilters, brand_key
from search.recall.elastic.analysis import (
    ANALYSIS_PLUGINS,
    LANGUAGE_RULES,
    analysis_settings,
    analyzer_name,
    search_analyzer_name,
)

VECTOR_FIELD = "embedding"
# ``embedding``: float vectors in an HNSW graph (not the int8-quantised default of 8.14+), so
# _score is the exact cosine of what was stored, as in the embedded backend. ``cosine``, not
# ``dot_product``: the same score formula, and Elasticsearch (8.11+) normalises cosine vectors
# once at index time, so it costs no more, but it does not refuse a whole document whose vector
# is off unit length by more than a small tolerance (fp16 rounding), as dot_product does.
# ``dims`` is left out: the first stored vector sets it (8.11+), so one template serves every
# model. ``embed_text`` is kept for the embedding pass (``pending_vectors``), never searched.
VECTOR_PROPERTIES: dict[str, Any] = {
    "embed_text": {"type": "text", "index": False},
    "embed_text_hash": {"type": "keyword"},
    VECTOR_FIELD: {
        "type": "dense_vector",
        "index": True,
        "similarity": "cosine",
        "index_options": {"type": "hnsw"},
    },
}
# Replace the stored document by ``params.doc`` (as a plain index would), but carry the stored
# vector over when it was computed from the same embedding text. On a missing document
# (``scripted_upsert``) ``ctx._source`` is the empty upsert, so nothing is carried.
REPLACE_KEEPING_VECTOR = (
    "def kept = params.doc.embed_text_hash.equals(ctx._source.embed_text_hash) "
    "? ctx._source.embedding : null; "
    "ctx._source.clear(); ctx._source.putAll(params.doc); "
    "if (kept != null) { ctx._source.embedding = kept; }"
)
UPDATE_RETRIES_ON_CONFLICT = 3  # a product written while its vector is stored: retried, not lost


def _language_field(language: str) -> dict[str, Any]:
    field = {"type": "text", "analyzer": analyzer_name(language)}
    if language in LANGUAGE_RULES:
        field["search_analyzer"] = search_analyzer_name(language)
    return field


def index_template_body(alias: str, plugins: Iterable[str] = ANALYSIS_PLUGINS) -> dict[str, Any]:
    """The index template every ``<alias>-<version>`` index is created from."""
    languages = {lang: _language_field(lang) for lang in sorted(LANGUAGES)}
    text_fields = {name: {"properties": dict(languages)} for name in FIELD_BOOSTS}
    return {
        "index_patterns": [f"{alias}-*"],
        "priority": 100,
        "template": {
            "settings": {
                "number_of_shards": 1,
                "analysis": analysis_settings(frozenset(plugins)),
            },
            "mappings": {
                "dynamic": "strict",
                "properties": {
                    "id": {"type": "keyword"},
                    **text_fields,
                    "locale": {"type": "keyword"},
                    "language": {"type": "keyword"},
                    "category_path": {"type": "keyword"},
                    "brand_exact": {"type": "keyword"},
                    "brand_name": {"type": "keyword"},
                    "price": {"type": "double"},
                    "in_stock": {"type": "boolean"},
                    "created_at": {"type": "date"},
                    "updated_at": {"type": "date"},
                    "content_hash": {"type": "keyword"},
                    "product": {"type": "object", "enabled": False},
                    **VECTOR_PROPERTIES,
                },
            },
        },
    }


def product_document(product: Product, embed_max_chars: int = 400) -> dict[str, Any]:
    """The Elasticsearch document of a product: text under its language, filters, the source,
    and the text the dense leg embeds (``catalog.text.embed_text``, cut to ``embed_max_chars``)
    with its sha256. The vector itself is written later, by ``put_vectors``."""
    lang = language_of(product.locale).code
    passage = embed_text(product, embed_max_chars)
    alt_titles: dict[str, list[str]] = {}
    for locale, title in product.localized_titles.items():
        alt_titles.setdefault(language_of(locale).code, []).append(title)
    text = {
        "title": product.title,
        "brand": product.brand,
        "category": product.category,
        "bullets": list(product.bullets),
        "description": product.description,
    }
    return {
        "id": product.id,
        **{name: {lang: value} for name, value in text.items() if value},
        "alt_titles": alt_titles,
        "locale": product.locale,
        "language": lang,
        "category_path": product.category_path,
        "brand_exact": brand_key(product.brand),
        "brand_name": product.brand,
        "price": float(product.price),
        "in_stock": product.in_stock,
        **{
            name: moment.isoformat()
            for name in ("created_at", "updated_at")
            if (moment := getattr(product, name)) is not None
        },
        "content_hash": content_hash(product),
        "product": product.model_dump(mode="json"),
        "embed_text": passage,
        "embed_text_hash": text_hash(passage),
    }


def bulk_actions(
    products: Iterable[Product], index: str, *, embed_max_chars: int = 400, keep_vectors: bool
) -> Iterator[dict[str, Any]]:
    """``helpers.streaming_bulk`` actions that write (by id) each product into ``index``.

    With ``keep_vectors`` (incremental writes to the live catalog) each is a scripted upsert that
    replaces the document but keeps its vector if its embedding text is unchanged; without (a
    full reload into a new, empty index, which has no vectors to keep) a plain, cheaper index.
    """
    for product in products:
        document = product_document(product, embed_max_chars)
        if not keep_vectors:
            yield {"_op_type": "index", "_index": index, "_id": product.id, "_source": document}
            continue
        yield {
            "_op_type": "update",
            "_index": index,
            "_id": product.id,
            "retry_on_conflict": UPDATE_RETRIES_ON_CONFLICT,
            "scripted_upsert": True,
            "upsert": {},
            "script": {"lang": "painless", "source": REPLACE_KEEPING_VECTOR,
                       "params": {"doc": document}},
        }  # fmt: skip


def delete_actions(product_ids: Iterable[str], index: str) -> Iterator[dict[str, Any]]:
    """``helpers.streaming_bulk`` actions that delete each id from ``index``."""
    for product_id in product_ids:
        yield {"_op_type": "delete", "_index": index, "_id": product_id}


def query_fields(language: str | None) -> list[str]:
    """The boosted ``multi_match`` fields for one language, or every language when None."""
    languages = [language] if language else sorted(LANGUAGES)
    return [f"{name}.{lang}^{boost}" for lang in languages for name, boost in FIELD_BOOSTS.items()]


def filter_clauses(filters: SearchFilters) -> list[dict[str, Any]]:
    """Non-scoring filter clauses for ``filters``, in a fixed order."""
    clauses: list[dict[str, Any]] = []
    if filters.language:  # a locale filter matches its language (SearchFilters)
        clauses.append({"term": {"language": filters.language}})
    if filters.category:
        clauses.append({"term": {"category_path": filters.category}})
    if filters.brand:
        clauses.append({"term": {"brand_exact": filters.brand}})
    if filters.min_price is not None or filters.max_price is not None:
        bounds = {"gte": filters.min_price, "lte": filters.max_price}
        clauses.append({"range": {"price": {k: v for k, v in bounds.items() if v is not None}}})
    if filters.price_below is not None:
        clauses.append({"range": {"price": {"lt": filters.price_below}}})
    if filters.in_stock is not None:
        clauses.append({"term": {"in_stock": filters.in_stock}})
    return clauses


def search_body(query: str, filters: SearchFilters | None, limit: int) -> dict[str, Any]:
    """The search request: ``multi_match`` over the language's boosted fields, then filters."""
    filters = filters or SearchFilters()
    language = language_of(filters.locale).code if filters.locale else None
    match = {
        "multi_match": {
            "query": query,
            "type": "best_fields",
            "fields": query_fields(language),
            "tie_breaker": TIE_BREAKER,
        }
    }
    return {
        "size": limit,
        "track_total_hits": False,
        "_source": ["product"],
        "query": {"bool": {"must": [match], "filter": filter_clauses(filters)}},
    }


def content_hashes_body(product_ids: Sequence[str]) -> dict[str, Any]:
    """The search that returns the stored content hash of each of ``product_ids``."""
    return {
        "size": len(product_ids),
        "_source": ["content_hash"],
        "query": {"ids": {"values": list(product_ids)}},
    }


def languages_body() -> dict[str, Any]:
    """The search that counts the live products of each language (a ``terms`` aggregation on
    the ``language`` keyword, one bucket per language Shelf analyses)."""
    return {
        "size": 0,
        "track_total_hits": False,
        "aggs": {"languages": {"terms": {"field": "language", "size": len(LANGUAGES)}}},
    }
