"""Hidden products leave the match set on Elasticsearch too: the exact clause (no server)."""

from __future__ import annotations

from search.recall import SearchFilters
from search.recall.elastic.bodies import search_body
from search.recall.elastic.facets import facets_body, match_clause, window_body
from search.recall.facets import MatchQuery


def test_hidden_ids_are_a_must_not_ids_clause_of_the_match_set() -> None:
    match = MatchQuery("mug", None, ("n1",), SearchFilters(), excluded=("h1", "h2"))
    text = search_body("mug", SearchFilters(), 0)["query"]["bool"]["must"][0]
    assert match_clause(match) == {
        "bool": {
            "should": [
                text,
                {"constant_score": {"filter": {"ids": {"values": ["n1"]}}, "boost": 0}},
            ],
            "minimum_should_match": 1,
            "must_not": [{"ids": {"values": ["h1", "h2"]}}],
        }
    }
    assert window_body(match, "price_asc", 0, 10)["query"]["bool"]["must"] == [match_clause(match)]
    facets = facets_body(match, ["brand"], price_edges=[10.0])
    assert facets["query"]["bool"]["must"] == [match_clause(match)]
    assert "must_not" not in match_clause(MatchQuery("mug", None, (), SearchFilters()))["bool"]
