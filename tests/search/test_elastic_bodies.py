"""The Elasticsearch backend's request bodies, pinned exactly. No server: pure functions only."""

from __future__ import annotations

import pytest

from catalog.text import embed_text, text_hash
from search.errors import RecallUnavailable
from search.recall import SearchFilters
from search.recall.elastic.backend import ElasticsearchRecall
from search.recall.elastic.bodies import (
    bulk_actions,
    content_hashes_body,
    index_template_body,
    product_document,
    query_fields,
    search_body,
)
from tests.conftest import make_product


def test_template_without_a_server_maps_one_analysed_subfield_per_language() -> None:
    body = index_template_body("shelf-products")
    assert body["index_patterns"] == ["shelf-products-*"]
    properties = body["template"]["mappings"]["properties"]
    assert properties["title"]["properties"]["ja"] == {"type": "text", "analyzer": "shelf_ja"}
    assert properties["title"]["properties"]["de"] == {
        "type": "text",
        "analyzer": "shelf_de",
        "search_analyzer": "shelf_de_query",
    }
    assert sorted(properties["description"]["properties"]) == [
        "ar", "de", "en", "es", "fr", "it", "ja", "ko", "nl", "pt", "ru", "zh"]  # fmt: skip
    assert properties["product"] == {"type": "object", "enabled": False}
    assert body["template"]["mappings"]["dynamic"] == "strict"


def test_template_without_a_server_uses_the_plugins_analyzers_when_installed() -> None:
    analysis = index_template_body("shelf-products")["template"]["settings"]["analysis"]
    analyzers = analysis["analyzer"]
    assert analyzers["shelf_ja"]["tokenizer"] == "kuromoji_tokenizer"
    assert analyzers["shelf_zh"] == {
        "type": "custom",
        "char_filter": ["icu_normalizer", "shelf_long_vowel", "shelf_final_long_vowel"],
        "tokenizer": "smartcn_tokenizer",
        "filter": ["icu_normalizer", "shelf_han_fold"],
    }
    assert analyzers["shelf_ko"]["tokenizer"] == "nori_tokenizer"
    assert analysis["filter"]["shelf_de_stemmer"] == {"type": "stemmer", "language": "light_german"}


def test_template_without_a_server_normalises_before_a_whitespace_word_delimiter() -> None:
    analysis = index_template_body("shelf-products")["template"]["settings"]["analysis"]
    chain = ["shelf_edge_trim", "shelf_de_stop", "shelf_word_delimiter",
             "shelf_same_position_unique", "shelf_non_empty"]  # fmt: skip
    assert analysis["analyzer"]["shelf_de"] == {
        "type": "custom",
        "char_filter": ["icu_normalizer"],
        "tokenizer": "whitespace",
        "filter": [*chain, "shelf_de_decompound", "shelf_de_stemmer", "icu_folding"],
    }
    assert analysis["analyzer"]["shelf_de_query"] == {
        "type": "custom",
        "char_filter": ["icu_normalizer"],
        "tokenizer": "whitespace",
        "filter": [*chain, "shelf_join_pairs", "shelf_de_decompound", "shelf_de_stemmer",
                   "icu_folding"],
    }  # fmt: skip


def test_template_without_a_server_pins_the_word_delimiter_options() -> None:
    filters = index_template_body("s")["template"]["settings"]["analysis"]["filter"]
    assert filters["shelf_word_delimiter"] == {
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
    assert filters["shelf_edge_trim"] == {
        "type": "pattern_replace",
        "pattern": r"^[^\p{L}\p{M}\p{N}]+|[^\p{L}\p{M}\p{N}]+$",
        "replacement": "",
    }
    assert filters["shelf_join_pairs"] == {
        "type": "shingle",
        "min_shingle_size": 2,
        "max_shingle_size": 2,
        "output_unigrams": True,
        "token_separator": "",
        "filler_token": "",
    }
    assert filters["shelf_same_position_unique"] == {
        "type": "unique",
        "only_on_same_position": True,
    }
    assert filters["shelf_non_empty"] == {"type": "length", "min": 1}


def test_template_without_a_server_falls_back_to_cjk_bigrams_without_plugins() -> None:
    analyzers = index_template_body("s", plugins=[])["template"]["settings"]["analysis"]["analyzer"]
    fallback = {"type": "custom", "char_filter": ["shelf_long_vowel", "shelf_final_long_vowel"],
                "tokenizer": "standard",
                "filter": ["cjk_width", "lowercase", "cjk_bigram", "asciifolding"]}  # fmt: skip
    assert analyzers["shelf_ja"] == analyzers["shelf_zh"] == analyzers["shelf_ko"] == fallback
    assert analyzers["shelf_en"]["char_filter"] == []
    assert analyzers["shelf_en"]["filter"][0] == "lowercase"
    assert analyzers["shelf_en"]["filter"][-1] == "asciifolding"


def test_search_body_without_a_server_is_a_filtered_multi_match_never_query_string() -> None:
    filters = SearchFilters(
        locale="de-DE", category="Küche", brand=" Melitta  ", min_price=10, in_stock=True
    )
    body = search_body('kaffee" OR *:*', filters, 20)
    assert body == {
        "size": 20,
        "track_total_hits": False,
        "_source": ["product"],
        "query": {
            "bool": {
                "must": [{"multi_match": {
                    "query": 'kaffee" OR *:*',
                    "type": "best_fields",
                    "fields": ["title.de^2.0", "alt_titles.de^2.0", "brand.de^2.0",
                               "category.de^1.0", "bullets.de^1.0", "description.de^1.0"],
                    "tie_breaker": 0.1,
                }}],
                "filter": [
                    {"term": {"language": "de"}},
                    {"term": {"category_path": "Küche"}},
                    {"term": {"brand_exact": "melitta"}},
                    {"range": {"price": {"gte": 10}}},
                    {"term": {"in_stock": True}},
                ],
            }
        },
    }  # fmt: skip
    assert "query_string" not in repr(body)


def test_search_body_without_a_server_queries_every_language_without_a_locale() -> None:
    body = search_body("coffee", SearchFilters(locale="en"), 5)
    assert body["query"]["bool"]["filter"] == [{"term": {"language": "en"}}]
    fields = search_body("coffee", None, 5)["query"]["bool"]["must"][0]["multi_match"]["fields"]
    assert fields == query_fields(None)
    assert len(fields) == 6 * 12 and "title.ja^2.0" in fields and "description.ar^1.0" in fields


def test_bulk_actions_without_a_server_put_text_under_the_products_language() -> None:
    product = make_product(id="p1", locale="de-DE", title="Trinkflasche", bullets=["750 ml"],
                           localized_titles={"en-US": "Water bottle"}, description="")  # fmt: skip
    [action] = bulk_actions([product], "shelf-products-v1", keep_vectors=False)
    source = action.pop("_source")
    assert action == {"_op_type": "index", "_index": "shelf-products-v1", "_id": "p1"}
    assert source["title"] == {"de": "Trinkflasche"}
    assert source["bullets"] == {"de": ["750 ml"]}
    assert "description" not in source
    assert source["alt_titles"] == {"en": ["Water bottle"]}
    assert (source["locale"], source["language"]) == ("de-DE", "de")
    assert source["category_path"] == ["Sports", "Sports > Hydration"]
    assert source["brand_exact"] == "brookline"
    assert len(source["content_hash"]) == 64
    assert source["product"] == product.model_dump(mode="json")


def test_content_hashes_body_without_a_server_asks_for_the_hash_only() -> None:
    assert content_hashes_body(["a", "b"]) == {
        "size": 2,
        "_source": ["content_hash"],
        "query": {"ids": {"values": ["a", "b"]}},
    }


def test_an_unreachable_cluster_is_recall_unavailable_naming_the_url_and_the_fix() -> None:
    with pytest.raises(RecallUnavailable, match=r"http://127\.0\.0\.1:9 .*docker compose up"):
        ElasticsearchRecall("http://127.0.0.1:9", request_timeout=2)


# The dense leg's fields and writes (its other bodies: test_elastic_vector_bodies.py).


def test_template_without_a_server_maps_the_vector_and_its_text_beside_the_analysers() -> None:
    mapping = index_template_body("shelf-products")["template"]["mappings"]
    properties = mapping["properties"]
    assert properties["embedding"] == {
        "type": "dense_vector",
        "index": True,
        "similarity": "cosine",
        "index_options": {"type": "hnsw"},
    }  # no "dims": the first stored vector sets it, so one template serves every model
    assert properties["embed_text"] == {"type": "text", "index": False}
    assert properties["embed_text_hash"] == {"type": "keyword"}
    assert "_meta" not in mapping  # a new index names no model until a vector is stored


@pytest.mark.parametrize("max_chars", [32, 400, 5000])
def test_bulk_actions_without_a_server_carry_the_embed_text_cut_to_the_setting(
    max_chars: int,
) -> None:
    product = make_product(description="Keeps drinks cold for 24 hours. " * 40)
    [action] = bulk_actions([product], "i", embed_max_chars=max_chars, keep_vectors=False)
    passage = embed_text(product, max_chars)
    assert action["_source"]["embed_text"] == passage
    assert action["_source"]["embed_text_hash"] == text_hash(passage)
    assert action["_source"] == product_document(product, max_chars)


def test_bulk_actions_without_a_server_upsert_live_products_keeping_an_unchanged_vector() -> None:
    product = make_product(id="p1")
    [action] = bulk_actions([product], "shelf-products", keep_vectors=True)
    assert action == {
        "_op_type": "update",
        "_index": "shelf-products",
        "_id": "p1",
        "retry_on_conflict": 3,
        "scripted_upsert": True,
        "upsert": {},
        "script": {
            "lang": "painless",
            "source": "def kept = params.doc.embed_text_hash.equals(ctx._source.embed_text_hash) "
            "? ctx._source.embedding : null; ctx._source.clear(); ctx._source.putAll(params.doc); "
            "if (kept != null) { ctx._source.embedding = kept; }",
            "params": {"doc": product_document(product, 400)},
        },
    }
    assert "embedding" not in product_document(product)  # only put_vectors writes vectors


def test_bulk_actions_without_a_server_index_plainly_into_a_new_full_reload_index() -> None:
    product = make_product(id="p1")
    [action] = bulk_actions([product], "shelf-products-v2", keep_vectors=False)
    assert action == {
        "_op_type": "index",
        "_index": "shelf-products-v2",
        "_id": "p1",
        "_source": product_document(product),
    }
