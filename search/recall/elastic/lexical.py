"""The Elasticsearch lexical query with synonyms and typo tolerance (``search.recall.lexical``),
as pure functions the tests pin exactly.

With nothing to add, the body is ``elastic_bodies.search_body``'s. Otherwise its ``multi_match``
becomes one ``bool``/``should`` of:

- the query's own ``multi_match``, unchanged (weight 1);
- the correctable words (``lexical.typo_words``: five characters or more, no digit, no CJK) in a
  ``multi_match`` with ``fuzziness: "AUTO:5,9"``, ``prefix_length: 1``, transpositions as one
  edit, at ``TYPO_WEIGHT``. Elasticsearch expands each analysed term to the index terms within
  its edits; it cannot ask whether the term itself is in the index first, so a word the index
  holds also gains its near neighbours here, at the lower weight (the embedded backend corrects
  only words the index lacks);
- each synonym phrase in a ``cross_fields`` ``multi_match`` with ``operator: and`` (every word of
  the phrase, in any field), at ``SYNONYM_WEIGHT``.

Which words were corrected comes back from a term suggester per correctable word and analysis
language, over the ``title.<language>`` fields, in the same request (``suggest_mode: missing``:
only for a word the titles lack), read by ``read_corrections``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from catalog.analysis import query_languages
from catalog.locales import LANGUAGES, language_of
from search.recall import TIE_BREAKER, SearchFilters
from search.recall.elastic.bodies import search_body
from search.recall.lexical import (
    MAX_EXPANSIONS,
    PREFIX_LENGTH,
    SYNONYM_WEIGHT,
    TYPO_WEIGHT,
    Correction,
    LexicalOptions,
    allowed_edits,
    query_words,
    typo_words,
)

FUZZINESS = "AUTO:5,9"


def lexical_clause(
    query: str, filters: SearchFilters | None, lexical: LexicalOptions | None
) -> dict[str, Any]:
    """The scoring clause of the lexical leg (see the module docstring)."""
    exact: dict[str, Any] = search_body(query, filters, 0)["query"]["bool"]["must"][0]
    if lexical is None:
        return exact
    fields = exact["multi_match"]["fields"]
    should = [exact]
    words = lexical.correctable(query)
    if words:
        should.append(
            {
                "multi_match": {
                    "query": " ".join(words),
                    "type": "best_fields",
                    "fields": fields,
                    "tie_breaker": TIE_BREAKER,
                    "fuzziness": FUZZINESS,
                    "prefix_length": PREFIX_LENGTH,
                    "max_expansions": MAX_EXPANSIONS,
                    "fuzzy_transpositions": True,
                    "boost": TYPO_WEIGHT,
                }
            }
        )
    for use in lexical.synonyms:
        # One query term's synonyms count as one alternative (the best of them, dis_max): a
        # product holding two of them never outranks one holding the term itself.
        phrases = [
            {
                "multi_match": {
                    "query": phrase,
                    "type": "cross_fields",
                    "fields": fields,
                    "operator": "and",
                    "tie_breaker": TIE_BREAKER,
                }
            }
            for phrase in use.also
        ]
        if len(phrases) == 1:
            phrases[0]["multi_match"]["boost"] = SYNONYM_WEIGHT
            should.append(phrases[0])
        else:
            should.append({"dis_max": {"queries": phrases, "boost": SYNONYM_WEIGHT}})
    if len(should) == 1:
        return exact
    return {"bool": {"should": should, "minimum_should_match": 1}}


def suggest_languages(
    query: str, filters: SearchFilters | None, analyze_as: Sequence[str] | None
) -> list[str]:
    """The languages whose title fields the term suggester reads: the locale filter's, else
    the analysis languages, else those of the query's script."""
    if filters and filters.locale:
        return [language_of(filters.locale).code]
    codes = analyze_as or query_languages(query)
    return sorted({language_of(code).code for code in codes} & set(LANGUAGES))


def suggest_body(
    query: str,
    filters: SearchFilters | None,
    analyze_as: Sequence[str] | None,
    lexical: LexicalOptions | None,
) -> dict[str, Any]:
    """A term suggester ``typo-<i>-<language>`` per correctable word ``i`` and language ({}
    when typo tolerance is off or no word is correctable)."""
    if lexical is None or not lexical.typos:
        return {}
    suggest: dict[str, Any] = {}
    languages = suggest_languages(query, filters, analyze_as)
    for i, word in enumerate(lexical.correctable(query)):
        for language in languages:
            suggest[f"typo-{i}-{language}"] = {
                "text": word,
                "term": {
                    "field": f"title.{language}",
                    "suggest_mode": "missing",
                    "max_edits": allowed_edits(word),
                    "prefix_length": PREFIX_LENGTH,
                    "min_word_length": 5,
                    "string_distance": "damerau_levenshtein",
                    "size": MAX_EXPANSIONS,
                },
            }
    return suggest


def lexical_search_body(
    query: str,
    filters: SearchFilters | None,
    limit: int,
    lexical: LexicalOptions | None,
    analyze_as: Sequence[str] | None = None,
) -> dict[str, Any]:
    """``search_body`` with ``lexical_clause`` for its text and the typo suggesters."""
    body = search_body(query, filters, limit)
    body["query"]["bool"]["must"] = [lexical_clause(query, filters, lexical)]
    if suggest := suggest_body(query, filters, analyze_as, lexical):
        body["suggest"] = suggest
    return body


def read_corrections(response: dict[str, Any], query: str) -> tuple[Correction, ...]:
    """The corrected words and the terms the suggesters offered, from a search response."""
    suggested = response.get("suggest") or {}
    found = []
    for i, word in enumerate(typo_words(query.casefold())):
        to: dict[str, None] = {}
        for name in sorted(suggested):
            if name.startswith(f"typo-{i}-"):
                for entry in suggested[name]:
                    to.update(dict.fromkeys(option["text"] for option in entry["options"]))
        if to:
            terms = tuple(to)[:MAX_EXPANSIONS]
            found.append(Correction(word, terms, terms))
    return tuple(found)


def did_you_mean(query: str, corrections: Sequence[Correction]) -> str | None:
    """The query with each corrected word replaced by its first suggestion (None: no change)."""
    first = {c.term: c.to[0] for c in corrections if c.to}
    if not first:
        return None
    return " ".join(first.get(word, word) for word in query_words(query.casefold()))
