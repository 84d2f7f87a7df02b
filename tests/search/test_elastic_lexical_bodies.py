"""The Elasticsearch lexical query with typo tolerance and synonyms: exact bodies pinned, and the
round trip against the FAKE Elasticsearch server of ``test_elastic_fake_server`` (no real
cluster here): the body sent, the corrections read back from the term suggesters."""

from __future__ import annotations

from typing import Any

import pytest

from search.recall import TIE_BREAKER, SearchFilters
from search.recall.elastic.backend import ElasticsearchRecall
from search.recall.elastic.bodies import query_fields, search_body
from search.recall.elastic.facets import match_clause
from search.recall.elastic.lexical import (
    did_you_mean,
    lexical_search_body,
    read_corrections,
    suggest_body,
)
from search.recall.elastic.vectors import msearch_searches
from search.recall.facets import MatchQuery
from search.recall.lexical import NO_EXPANSION, LexicalOptions, SynonymUse
from tests.search.test_elastic_fake_server import (  # noqa: F401  (fixtures)
    FakeElasticsearch,
    answer,
    fake_url,
    hits,
    ndjson,
    recall,
)

EN = SearchFilters(locale="en")
TV = LexicalOptions(synonyms=(SynonymUse("tv", ("television", "flat screen")),))


def test_fake_body_with_typos_and_synonyms_is_pinned() -> None:
    body = lexical_search_body("headphnoes tv iphone15", EN, 10, TV)
    fields = query_fields("en")
    assert body == {
        "size": 10,
        "track_total_hits": False,
        "_source": ["product"],
        "query": {
            "bool": {
                "must": [
                    {
                        "bool": {
                            "should": [
                                {
                                    "multi_match": {
                                        "query": "headphnoes tv iphone15",
                                        "type": "best_fields",
                                        "fields": fields,
                                        "tie_breaker": TIE_BREAKER,
                                    }
                                },
                                {
                                    "multi_match": {
                                        "query": "headphnoes",
                                        "type": "best_fields",
                                        "fields": fields,
                                        "tie_breaker": TIE_BREAKER,
                                        "fuzziness": "AUTO:5,9",
                                        "prefix_length": 1,
                                        "max_expansions": 5,
                                        "fuzzy_transpositions": True,
                                        "boost": 0.5,
                                    }
                                },
                                {
                                    "dis_max": {
                                        "queries": [
                                            {
                                                "multi_match": {
                                                    "query": "television",
                                                    "type": "cross_fields",
                                                    "fields": fields,
                                                    "operator": "and",
                                                    "tie_breaker": TIE_BREAKER,
                                                }
                                            },
                                            {
                                                "multi_match": {
                                                    "query": "flat screen",
                                                    "type": "cross_fields",
                                                    "fields": fields,
                                                    "operator": "and",
                                                    "tie_breaker": TIE_BREAKER,
                                                }
                                            },
                                        ],
                                        "boost": 0.5,
                                    }
                                },
                            ],
                            "minimum_should_match": 1,
                        }
                    }
                ],
                "filter": [{"term": {"language": "en"}}],
            }
        },
        "suggest": {
            "typo-0-en": {
                "text": "headphnoes",
                "term": {
                    "field": "title.en",
                    "suggest_mode": "missing",
                    "max_edits": 2,
                    "prefix_length": 1,
                    "min_word_length": 5,
                    "string_distance": "damerau_levenshtein",
                    "size": 5,
                },
            }
        },
    }


@pytest.mark.parametrize(
    "query", ["iphone15", "rtx4090 x200", "降噪耳机", "cat food", "tv", "red cup"]
)
def test_fake_body_nothing_to_correct_or_expand_is_the_plain_body(query: str) -> None:
    assert lexical_search_body(query, EN, 10, LexicalOptions()) == search_body(query, EN, 10)
    assert lexical_search_body(query, EN, 10, None) == search_body(query, EN, 10)


def test_fake_body_typo_tolerance_off_sends_no_fuzziness() -> None:
    body = lexical_search_body("headphnoes", EN, 10, NO_EXPANSION)
    assert body == search_body("headphnoes", EN, 10)


def test_fake_body_suggesters_per_language_without_a_locale() -> None:
    names = sorted(suggest_body("wirelses", None, ["en", "de"], LexicalOptions()))
    assert names == ["typo-0-de", "typo-0-en"]
    suggest = suggest_body("wirelses", None, None, LexicalOptions())
    assert {s["term"]["max_edits"] for s in suggest.values()} == {1}
    assert {s["term"]["field"] for s in suggest.values()} >= {"title.en", "title.de"}


def test_fake_body_the_match_set_holds_the_expansions() -> None:
    match = MatchQuery("headphnoes tv", ("en",), (), EN, lexical=TV)
    clause = match_clause(match)
    assert (
        clause["bool"]["should"][0]
        == lexical_search_body("headphnoes tv", EN, 0, TV)["query"]["bool"]["must"][0]
    )


def _suggested(**options: list[str]) -> dict[str, Any]:
    return {
        "suggest": {
            name: [{"text": "x", "offset": 0, "length": 1, "options": [{"text": t} for t in got]}]
            for name, got in options.items()
        }
    }


def test_fake_body_corrections_and_did_you_mean_are_read_from_the_suggesters() -> None:
    response = _suggested(**{"typo-0-en": ["headphone", "headphon"], "typo-0-de": ["headphone"]})
    [correction] = read_corrections(response, "headphnoes tv")
    assert (correction.term, correction.to) == ("headphnoes", ("headphone", "headphon"))
    assert did_you_mean("headphnoes tv", [correction]) == "headphone tv"
    assert read_corrections({"suggest": {"typo-0-en": [{"options": []}]}}, "headphnoes") == ()
    assert did_you_mean("headphnoes", []) is None


def test_fake_server_a_search_sends_the_expansions_and_reports_corrections(
    recall: ElasticsearchRecall,  # noqa: F811
) -> None:
    bm25 = {**hits(("p1", 2.0)), **_suggested(**{"typo-0-en": ["headphone"]})}
    FakeElasticsearch.routes["POST /shelf-products/_msearch"] = answer({"responses": [bm25]})

    legs = recall.search_legs("headphnoes tv", None, limit=4, filters=EN, lexical=TV)

    assert ndjson(FakeElasticsearch.bodies[0]) == msearch_searches(
        [lexical_search_body("headphnoes tv", EN, 4, TV)]
    )
    assert [h.product.id for h in legs.bm25] == ["p1"]
    assert [(c.term, c.to) for c in legs.corrections] == [("headphnoes", ("headphone",))]
    assert legs.did_you_mean is None  # something was found


def test_fake_server_nothing_found_offers_did_you_mean(
    recall: ElasticsearchRecall,  # noqa: F811
) -> None:
    empty = {**hits(), **_suggested(**{"typo-0-en": ["keyboard"]})}
    FakeElasticsearch.routes["POST /shelf-products/_msearch"] = answer({"responses": [empty]})
    legs = recall.search_legs("kyeobard", None, limit=4, filters=EN, lexical=LexicalOptions())
    assert (legs.bm25, legs.did_you_mean) == ([], "keyboard")
