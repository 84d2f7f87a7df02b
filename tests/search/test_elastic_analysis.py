"""The Elasticsearch analyzers' decompounding and script folding, pinned exactly, and the
``languages`` round trip against a FAKE Elasticsearch (no real cluster here): what the embedded
backend does in Python, the index template asks Elasticsearch's own filters to do."""

from __future__ import annotations

import json
from typing import Any

import pytest

from catalog.decompound import word_list
from catalog.locales import LANGUAGES
from catalog.script_folding import FINAL_LONG_VOWEL_PATTERN, LONG_VOWEL_PATTERN
from search.recall.elastic.backend import ElasticsearchRecall
from search.recall.elastic.bodies import index_template_body, languages_body
from tests.search.test_elastic_fake_server import (  # noqa: F401 (fixtures)
    FakeElasticsearch,
    answer,
    fake_url,
    recall,
)


def _analysis(plugins: Any = None) -> dict[str, Any]:
    body = index_template_body("s") if plugins is None else index_template_body("s", plugins)
    analysis: dict[str, Any] = body["template"]["settings"]["analysis"]
    return analysis


def test_german_analyzers_split_compounds_with_the_embedded_word_list_before_stemming() -> None:
    analysis = _analysis()
    decompounder = analysis["filter"]["shelf_de_decompound"]
    assert {k: v for k, v in decompounder.items() if k != "word_list"} == {
        "type": "dictionary_decompounder",
        "min_word_size": 5,
        "min_subword_size": 4,
        "max_subword_size": 15,
        "only_longest_match": True,
    }
    # The very list catalog.decompound splits with, inline: nothing to install on the nodes.
    assert decompounder["word_list"] == sorted(word_list("de"))
    for name in ("shelf_de", "shelf_de_query"):
        chain = analysis["analyzer"][name]["filter"]
        split = chain.index("shelf_de_decompound")
        assert chain[split + 1] == "shelf_de_stemmer"
        assert chain.index("shelf_word_delimiter") < split
    assert analysis["analyzer"]["shelf_de_query"]["filter"].index("shelf_join_pairs") < split


@pytest.mark.parametrize("language", sorted(set(LANGUAGES) - {"de", "zh", "ja", "ko"}))
def test_other_languages_are_not_decompounded(language: str) -> None:
    analysis = _analysis()
    assert f"shelf_{language}_decompound" not in analysis["filter"]
    assert not any("decompound" in f for f in analysis["analyzer"][f"shelf_{language}"]["filter"])


@pytest.mark.parametrize("language", ["zh", "ja", "ko"])
def test_cjk_analyzers_fold_han_to_simplified_and_kana_variants(language: str) -> None:
    analysis = _analysis()
    assert analysis["filter"]["shelf_han_fold"] == {
        "type": "icu_transform",
        "id": "Traditional-Simplified",
    }
    analyzer = analysis["analyzer"][f"shelf_{language}"]
    assert analyzer["filter"][-1] == "shelf_han_fold"
    assert analyzer["char_filter"] == [
        "icu_normalizer", "shelf_long_vowel", "shelf_final_long_vowel"]  # fmt: skip
    assert analysis["char_filter"] == {
        "shelf_long_vowel": {
            "type": "pattern_replace",
            "pattern": LONG_VOWEL_PATTERN,
            "replacement": "ー",
        },
        "shelf_final_long_vowel": {
            "type": "pattern_replace",
            "pattern": FINAL_LONG_VOWEL_PATTERN,
            "replacement": "",
        },
    }


def test_without_icu_there_is_no_han_transform_but_kana_still_folds() -> None:
    analysis = _analysis(plugins=[])
    assert "shelf_han_fold" not in analysis["filter"]
    fallback = analysis["analyzer"]["shelf_zh"]
    assert "shelf_han_fold" not in fallback["filter"]
    assert fallback["char_filter"] == ["shelf_long_vowel", "shelf_final_long_vowel"]


def test_the_languages_body_is_one_terms_aggregation() -> None:
    assert languages_body() == {
        "size": 0,
        "track_total_hits": False,
        "aggs": {"languages": {"terms": {"field": "language", "size": 12}}},
    }


def test_fake_server_languages_reads_the_buckets(recall: ElasticsearchRecall) -> None:  # noqa: F811
    FakeElasticsearch.routes["POST /shelf-products/_search"] = answer(
        {"hits": {"hits": []}, "aggregations": {"languages": {"buckets": [
            {"key": "en", "doc_count": 7}, {"key": "de", "doc_count": 3},
            {"key": "fr", "doc_count": 0}]}}}
    )  # fmt: skip
    assert recall.languages() == {"en": 7, "de": 3}
    assert FakeElasticsearch.requests == ["POST /shelf-products/_search"]
    assert json.loads(FakeElasticsearch.bodies[0]) == languages_body()


def test_fake_server_an_empty_catalog_holds_no_language(recall: ElasticsearchRecall) -> None:  # noqa: F811
    assert recall.languages() == {}
