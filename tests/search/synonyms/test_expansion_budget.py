"""Synonym expansion keeps a bounded number of alternatives per query, whatever the rules:
round robin over the query's phrases, in query order, the same every time."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from search.synonyms.model import (
    MAX_EXPANSION_TERMS,
    MAX_TERMS_PER_RULE,
    SynonymRule,
    SynonymSet,
)

WORDS = [f"w{i}" for i in range(40)]
rules_strategy = st.lists(
    st.lists(st.sampled_from(WORDS), min_size=2, max_size=MAX_TERMS_PER_RULE, unique=True),
    max_size=60,
).map(lambda rules: SynonymSet.of(SynonymRule(tuple(terms)) for terms in rules))
query_strategy = st.lists(st.sampled_from(WORDS), min_size=1, max_size=30).map(" ".join)


@settings(max_examples=150, deadline=None)
@given(rules=rules_strategy, query=query_strategy, max_terms=st.integers(0, 100))
def test_expansion_keeps_at_most_its_budget_whatever_the_rules(
    rules: SynonymSet, query: str, max_terms: int
) -> None:
    expansion = rules.expand(query, [None], max_terms=max_terms)
    kept = sum(len(also) for _phrase, also in expansion.uses)
    assert kept == len(expansion.picked) <= max_terms
    # Unbounded, the same phrases name at least as much; what was kept is a part of it.
    full = rules.expand(query, [None], max_terms=10**6).uses
    for phrase, also in expansion.uses:
        assert set(also) <= set(dict(full)[phrase])
    assert (expansion.dropped > 0) == (sum(len(also) for _phrase, also in full) > kept)


@settings(max_examples=100, deadline=None)
@given(rules=rules_strategy, query=query_strategy, max_terms=st.integers(1, 100))
def test_expansion_takes_each_phrases_first_alternative_before_any_second(
    rules: SynonymSet, query: str, max_terms: int
) -> None:
    expansion = rules.expand(query, [None], max_terms=max_terms)
    depths = []
    seen: dict[int, int] = {}
    for phrase_index, _alternative in expansion.picked:
        depths.append(seen.get(phrase_index, 0))
        seen[phrase_index] = seen.get(phrase_index, 0) + 1
    assert depths == sorted(depths)  # breadth first: depth never goes back
    assert rules.expand(query, [None], max_terms=max_terms) == expansion  # deterministic


def test_the_default_budget_bounds_a_rule_set_built_to_explode() -> None:
    # Every word in 30 rules of 32 terms: unbounded, "w0" alone would search 39 phrases, and a
    # 40-word query 1,560.
    rules = SynonymSet.of(
        SynonymRule(tuple(WORDS[(r + j) % 40] for j in range(MAX_TERMS_PER_RULE)))
        for r in range(30)
    )
    expansion = rules.expand(" ".join(WORDS), [None])
    assert len(expansion.picked) == MAX_EXPANSION_TERMS and expansion.dropped > 0
    assert len(rules.expansions(" ".join(WORDS), [None], max_terms=5)[0][1]) == 1
