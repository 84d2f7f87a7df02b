"""The tantivy documents of the embedded backend: the schema, and a product as a document
(analysed text fields, the filter fields the BM25 leg and ``vectors.ProductRow`` share, the
source)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import lru_cache

import tantivy

from catalog.analysis import analyze
from catalog.locales import language_of
from catalog.product import Product
from catalog.text import content_hash
from search.recall import FIELD_BOOSTS, brand_key

# Products decoded from stored sources, kept by the source's bytes: a warm search finds the same
# products again, and validating one from JSON (about 28 us) cost more than fetching its
# document (5 us); 100 of them a hybrid search was a fifth of its CPU. ~3 KB each.
DECODED_PRODUCTS = 8192
# Up to this many ids are looked up as one term query each rather than a term set: tantivy's
# term set costs about 340 us before its first id here (640 products; it walks the id
# dictionary, so more on a larger catalog), a term query about 4 us an id. Measured: 50 ids
# 200 vs 386 us, 100 ids 387 vs 451 us, 300 ids 1308 vs 646 us.
IDS_BY_TERM_MAX = 64


@lru_cache(maxsize=DECODED_PRODUCTS)
def stored_product(source: bytes) -> Product:
    """The product a document's stored ``source`` holds, decoded once per distinct source: a
    changed product has another source, so it is never served stale (products are frozen).
    Its content hash is computed here, once, so its rerank text is memoised from the first
    search on (``catalog.text.rerank_text``)."""
    product = Product.model_validate_json(source)
    _ = product.content_hash
    return product


def ids_query(schema: tantivy.Schema, product_ids: Sequence[str]) -> tantivy.Query:
    """The documents of ``product_ids``, each scoring 1.0 (as tantivy's term set scores)."""
    if len(product_ids) > IDS_BY_TERM_MAX:
        return tantivy.Query.term_set_query(schema, "id", list(product_ids))
    terms = [
        (tantivy.Occur.Should, tantivy.Query.term_query(schema, "id", product_id))
        for product_id in product_ids
    ]
    return tantivy.Query.const_score_query(tantivy.Query.boolean_query(terms), 1.0)


def schema() -> tantivy.Schema:
    """The index schema: id, the boosted text fields, the filter fields, hash and source."""
    builder = tantivy.SchemaBuilder()
    # Fast fields (column-oriented, read without loading a document) serve the match set:
    # category paths, brands, price, stock and times for facets and sorts.
    builder.add_text_field("id", stored=True, tokenizer_name="raw", index_option="basic")
    for name in FIELD_BOOSTS:
        # Terms come pre-analysed (catalog.analysis), joined by spaces.
        builder.add_text_field(name, tokenizer_name="whitespace", index_option="freq")
    builder.add_text_field("locale", tokenizer_name="raw", index_option="basic")
    builder.add_text_field("language", tokenizer_name="raw", index_option="basic")
    builder.add_text_field("category_path", fast=True, tokenizer_name="raw", index_option="basic")
    builder.add_text_field("brand_exact", tokenizer_name="raw", index_option="basic")
    builder.add_text_field("brand_name", fast=True, tokenizer_name="raw", index_option="basic")
    builder.add_float_field("price", indexed=True, fast=True)
    builder.add_boolean_field("in_stock", indexed=True, fast=True)
    builder.add_integer_field("created_at", indexed=False, fast=True)  # microseconds, UTC
    builder.add_integer_field("updated_at", indexed=False, fast=True)
    builder.add_text_field("content_hash", stored=True, tokenizer_name="raw", index_option="basic")
    builder.add_bytes_field("source", stored=True)
    return builder.build()


def _terms(text: str, locale: str) -> str:
    return " ".join(analyze(text, locale))


# A catalog has few brands and categories, repeated on every product: each is analysed once.
_repeated_terms = lru_cache(maxsize=4096)(_terms)


def epoch_us(moment: dt.datetime | None) -> int | None:
    """A product time as integer microseconds since the epoch (UTC), the fast-field sort key."""
    return None if moment is None else round(moment.timestamp() * 1_000_000)


def product_document(product: Product) -> tantivy.Document:
    """The tantivy document of a product: analysed text fields, filter fields, the source."""
    times = {
        name: value
        for name in ("created_at", "updated_at")
        if (value := epoch_us(getattr(product, name))) is not None
    }
    alt_titles = " ".join(
        _terms(title, locale) for locale, title in product.localized_titles.items()
    )
    return tantivy.Document(
        id=product.id,
        title=_terms(product.title, product.locale),
        alt_titles=alt_titles,
        brand=_repeated_terms(product.brand, product.locale),
        category=_repeated_terms(product.category, product.locale),
        bullets=" ".join(_terms(bullet, product.locale) for bullet in product.bullets),
        description=_terms(product.description, product.locale),
        locale=product.locale,
        language=language_of(product.locale).code,
        category_path=product.category_path,
        brand_exact=brand_key(product.brand),
        brand_name=product.brand,
        price=float(product.price),
        in_stock=product.in_stock,
        content_hash=content_hash(product),
        source=product.model_dump_json().encode("utf-8"),
        **times,
    )
