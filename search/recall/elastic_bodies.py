"""The request bodies of the Elasticsearch backend, as pure functions the tests pin exactly.

Per-language analysis is done with **per-language subfields chosen at index time**: a product's
text goes to ``title.<lang>``, ``description.<lang>`` ... for the language of its locale only, and
each ``.<lang>`` subfield has that language's analyzer:

- Japanese: kuromoji (base forms, part-of-speech and stemming filters); Chinese: smartcn;
  Korean: nori. Without those plugins: the standard tokenizer with CJK bigrams (``cjk_bigram``),
  the same rule as the embedded backend's ``catalog.analysis``.
- The other languages rebuild Elasticsearch's built-in language analyzer (its stop words and
  light stemmer) on the whitespace tokenizer, with ICU normalisation (NFKC, case folding) as a
  char filter before it, the ``word_delimiter_graph`` filter with ``catalog.word_delimiter``'s
  options (``T-Shirt`` -> ``t``, ``shirt``, ``tshirt``, ``t-shirt``) and ICU folding (accents)
  after, so "Kopfhörer" meets "kopfhorer" and "tshirt" meets "T-Shirt". Their query analyzer
  (``search_analyzer``) also joins adjacent words (a ``shingle`` filter with no separator), as
  ``catalog.analysis.analyze_query`` does. Without analysis-icu: lowercase and asciifolding.

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

ANALYSIS_PLUGINS = ("analysis-icu", "analysis-kuromoji", "analysis-smartcn", "analysis-nori")

# Built-in language analyzers: (stop word list, light stemmer) as Elasticsearch's docs rebuild them.
_LANGUAGE_RULES: dict[str, tuple[str, str]] = {
    "ar": ("_arabic_", "arabic"),
    "ru": ("_russian_", "light_russian"),
    "en": ("_english_", "light_english"),
    "de": ("_german_", "light_german"),
    "es": ("_spanish_", "light_spanish"),
    "fr": ("_french_", "light_french"),
    "it": ("_italian_", "light_italian"),
    "pt": ("_portuguese_", "light_portuguese"),
    "nl": ("_dutch_", "dutch"),
}
_CJK_TOKENIZERS = {"ja": "analysis-kuromoji", "zh": "analysis-smartcn", "ko": "analysis-nori"}

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


def analyzer_name(language: str) -> str:
    """The analyzer of one language's subfields: ``shelf_de``."""
    return f"shelf_{language}"


def search_analyzer_name(language: str) -> str:
    """The query analyzer of a non-CJK language's subfields: ``shelf_de_query``."""
    return f"shelf_{language}_query"


# catalog.word_delimiter's rules, as Lucene's own filter: parts, joined forms and the original.
# Case is folded before it, so case changes do not split; "'s" is a part like any other.
WORD_DELIMITER: dict[str, Any] = {
    "type": "word_delimiter_graph",
    "generate_word_parts": True,
    "generate_number_parts": True,
    "catenate_words": True,
    "catenate_numbers": True,
    "catenate_all": True,
    "preserve_original": True,
    "split_on_case_change": False,
    "split_on_numerics": True,
    "stem_english_possessive": False,
}
# The whitespace tokenizer leaves punctuation on a word's edges ("cotton,"): trimmed before the
# word delimiter, so the preserved original is "cotton", as catalog.word_delimiter keeps it.
EDGE_TRIM: dict[str, Any] = {
    "type": "pattern_replace",
    "pattern": r"^[^\p{L}\p{M}\p{N}]+|[^\p{L}\p{M}\p{N}]+$",
    "replacement": "",
}
# Queries only: adjacent words joined ("t shirt" -> "tshirt"), catalog.analysis.analyze_query.
JOIN_PAIRS: dict[str, Any] = {
    "type": "shingle",
    "min_shingle_size": 2,
    "max_shingle_size": 2,
    "output_unigrams": True,
    "token_separator": "",
    "filler_token": "",
}
_SHARED_FILTERS: dict[str, Any] = {
    "shelf_edge_trim": EDGE_TRIM,
    "shelf_word_delimiter": WORD_DELIMITER,
    "shelf_same_position_unique": {"type": "unique", "only_on_same_position": True},
    "shelf_non_empty": {"type": "length", "min": 1},
    "shelf_join_pairs": JOIN_PAIRS,
}


def _custom(char_filter: list[str], filters: list[str]) -> dict[str, Any]:
    return {
        "type": "custom",
        "char_filter": char_filter,
        "tokenizer": "whitespace",
        "filter": filters,
    }


def _analysis(plugins: frozenset[str]) -> dict[str, Any]:
    icu = "analysis-icu" in plugins
    normalize = ["icu_normalizer"] if icu else ["lowercase"]
    fold = ["icu_folding"] if icu else ["asciifolding"]
    # NFKC and case folding before tokenisation when ICU is there (a char filter), so no letter
    # is cut from its combining mark; the whitespace tokenizer leaves "T-Shirt" whole for the
    # word delimiter (ICU's and the standard tokenizer would split it first).
    char_filter = ["icu_normalizer"] if icu else []
    lowercase = [] if icu else ["lowercase"]
    filters: dict[str, Any] = dict(_SHARED_FILTERS)
    analyzers: dict[str, Any] = {}
    for language, (stopwords, stemmer) in _LANGUAGE_RULES.items():
        filters[f"shelf_{language}_stop"] = {"type": "stop", "stopwords": stopwords}
        filters[f"shelf_{language}_stemmer"] = {"type": "stemmer", "language": stemmer}
        # Stop words go before the word delimiter (elastic/elasticsearch#61848).
        head = [*lowercase, "shelf_edge_trim", f"shelf_{language}_stop", "shelf_word_delimiter",
                "shelf_same_position_unique", "shelf_non_empty"]  # fmt: skip
        tail = [f"shelf_{language}_stemmer", *fold]
        analyzers[analyzer_name(language)] = _custom(char_filter, [*head, *tail])
        analyzers[search_analyzer_name(language)] = _custom(
            char_filter, [*head, "shelf_join_pairs", *tail]
        )
    cjk_fallback = {
        "type": "custom",
        "tokenizer": "standard",
        "filter": ["cjk_width", "lowercase", "cjk_bigram", *fold],
    }
    native = {
        "ja": {
            "type": "custom",
            "tokenizer": "kuromoji_tokenizer",
            "filter": ["kuromoji_baseform", "kuromoji_part_of_speech", "cjk_width",
                       "kuromoji_stemmer", *normalize],
        },
        "zh": {"type": "custom", "tokenizer": "smartcn_tokenizer", "filter": [*normalize]},
        "ko": {
            "type": "custom",
            "tokenizer": "nori_tokenizer",
            "filter": ["nori_part_of_speech", "nori_readingform", *normalize],
        },
    }  # fmt: skip
    for language, plugin in _CJK_TOKENIZERS.items():
        analyzers[analyzer_name(language)] = native[language] if plugin in plugins else cjk_fallback
    return {"filter": filters, "analyzer": analyzers}


def _language_field(language: str) -> dict[str, Any]:
    field = {"type": "text", "analyzer": analyzer_name(language)}
    if language in _LANGUAGE_RULES:
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
                "analysis": _analysis(frozenset(plugins)),
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
