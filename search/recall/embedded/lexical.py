"""The embedded backend's lexical query: per term, the best boosted field (dismax), stop words
weighed down; and, with ``LexicalOptions``, the corrections of the words the index does not hold
and the synonym phrases, each at its lower weight (``search.recall.lexical``)."""

from __future__ import annotations

from collections.abc import Sequence

import tantivy

from catalog.analysis import stop_terms
from search.recall import FIELD_BOOSTS, TIE_BREAKER, SearchFilters, searchable_terms
from search.recall.embedded.vocabulary import Vocabulary
from search.recall.lexical import (
    MAX_EXPANSIONS,
    SYNONYM_WEIGHT,
    TYPO_WEIGHT,
    Correction,
    LexicalOptions,
    allowed_edits,
    own_terms,
    part_terms,
    phrase_terms,
    query_words,
    word_terms,
)

# A stop word of the query's language ("für", "how", "для") counts a tenth of a content word:
# enough to break ties and to recall a product that matches nothing else, too little to rank
# "Sonnencreme für Kinder" by its "für".
STOP_WORD_WEIGHT = 0.1
# A term only a decompounder found in the query (``kaffee`` and ``flecken`` of
# ``kaffeeflecken``) counts half the word the shopper typed: it still recalls ``Kaffee`` and
# ``Fleckenlöser`` titles, below a product holding the whole word. Tuned with `shelf eval` on the
# sample sets (README, "Decompounding"): German nDCG@10 0.761 at 1.0, 0.786 at 0.5, 0.752 at 0.25.
COMPOUND_PART_WEIGHT = 0.5


class LexicalQueries:
    """Builds the BM25 leg's tantivy query over an index of ``schema``."""

    def __init__(self, schema: tantivy.Schema) -> None:
        self._schema = schema
        self.vocabulary = Vocabulary(schema)

    def query(
        self,
        searcher: tantivy.Searcher,
        query: str,
        filters: SearchFilters,
        analyze_as: Sequence[str] | None,
        lexical: LexicalOptions | None,
    ) -> tuple[tantivy.Query, tuple[Correction, ...]]:
        """The query's terms (``_text_query``), or, when ``lexical`` adds some, those OR the
        corrections of the words the index does not hold (``TYPO_WEIGHT``) OR each synonym
        phrase, all its words required (``SYNONYM_WEIGHT``); and the corrections made.
        Remembered until the index changes: one search asks for the same query for its BM25
        leg, its match count, and each facet group and page."""
        # The part weight is read at build time (a tuned value must not serve a stale query).
        analysed = None if analyze_as is None else tuple(analyze_as)
        key = ("query", COMPOUND_PART_WEIGHT, query, filters, analysed, lexical)
        return self.vocabulary.remembered(
            searcher, key, lambda: self._query(searcher, query, filters, analyze_as, lexical)
        )

    def _query(
        self,
        searcher: tantivy.Searcher,
        query: str,
        filters: SearchFilters,
        analyze_as: Sequence[str] | None,
        lexical: LexicalOptions | None,
    ) -> tuple[tantivy.Query, tuple[Correction, ...]]:
        languages, terms = searchable_terms(query, filters, analyze_as)
        corrections: tuple[Correction, ...] = ()
        if lexical is not None and lexical.typos:
            key = ("corrections", query.casefold(), tuple(languages), lexical.max_corrections)
            corrections = self.vocabulary.remembered(
                searcher, key, lambda: self._corrections(searcher, query, languages, lexical)
            )
        parts = _parts_only(query, languages)
        if parts and len(languages) > 1:
            # A query of unknown language is also analysed as German, whose decompounder would
            # cut an English word the index knows (``headphones``) into German parts (``phon``).
            # A word the index holds as typed, in any of the languages, or that typo tolerance
            # corrects to one it holds (``hedphones``), is not split.
            corrected = frozenset(c.term for c in corrections)
            known = self._known_word_parts(searcher, query, languages, corrected)
            terms = [term for term in terms if term not in known]
            parts -= known
        base = self._text_query(terms, stop_terms(languages), parts)
        if lexical is None:
            return base, ()
        extra = [
            tantivy.Query.boost_query(
                tantivy.Query.disjunction_max_query(
                    [self._best_field(term) for term in c.terms], TIE_BREAKER
                ),
                TYPO_WEIGHT,
            )
            for c in corrections
        ]
        for use in lexical.synonyms:
            lexical.check("synonyms")  # one use may hold many phrases: stop between them
            # One query term's synonyms count as one alternative (the best of them, dismax): a
            # product holding two of them never outranks one holding the term itself.
            alternatives = [
                tantivy.Query.boolean_query(
                    [(tantivy.Occur.Must, self._best_field(term)) for term in words]
                )
                for words in sorted(
                    {words for phrase in use.also for words in phrase_terms(phrase, languages)}
                )
            ]
            if alternatives:
                extra.append(
                    tantivy.Query.boost_query(
                        tantivy.Query.disjunction_max_query(alternatives, 0.0), SYNONYM_WEIGHT
                    )
                )
        if not extra:
            return base, corrections
        either = [(tantivy.Occur.Should, q) for q in (base, *extra)]
        return tantivy.Query.boolean_query(either), corrections

    def _known_word_parts(
        self,
        searcher: tantivy.Searcher,
        query: str,
        languages: Sequence[str],
        corrected: frozenset[str] = frozenset(),
    ) -> frozenset[str]:
        """The decompounded parts of the query's words that the index holds as typed (their own
        terms, in any of ``languages``) or that are ``corrected`` (casefolded words), minus any
        term that is also a word's own term."""
        words = query_words(query.casefold())
        own = {t for word in words for language in languages for t in own_terms(word, language)}
        held = [
            word
            for word in words
            if word in corrected or self.vocabulary.holds(searcher, word_terms(word, languages))
        ]
        parts = {t for word in held for language in languages for t in part_terms(word, language)}
        return frozenset(parts - own)

    def _corrections(
        self,
        searcher: tantivy.Searcher,
        query: str,
        languages: Sequence[str],
        lexical: LexicalOptions,
    ) -> tuple[Correction, ...]:
        """Each correctable word of ``query`` (``lexical.correctable``: within the query's
        budget) none of whose terms the index holds, with the index terms within its allowed
        edits (``search.recall.lexical``). An analysed term shorter than a correctable word
        (``looking`` -> ``look``) is not corrected, or it would reach ``lock``."""
        found = []
        for word in lexical.correctable(query):
            lexical.check("typos")
            terms = word_terms(word, languages)
            if not terms or self.vocabulary.holds(searcher, terms):
                continue
            edits = allowed_edits(word)
            near: dict[str, None] = {}
            for term in terms:
                term_edits = edits if allowed_edits(term) else 0
                near.update(dict.fromkeys(self.vocabulary.near(searcher, term, term_edits)))
            if near:
                terms_found = tuple(near)[:MAX_EXPANSIONS]
                shown = (
                    self.vocabulary.surface(searcher, term, word) or term for term in terms_found
                )
                found.append(Correction(word, tuple(dict.fromkeys(shown)), terms_found))
        return tuple(found)

    def did_you_mean(
        self,
        searcher: tantivy.Searcher,
        query: str,
        filters: SearchFilters | None,
        analyze_as: Sequence[str] | None,
    ) -> str | None:
        """``query`` with its words the index lacks replaced by the nearest catalog words
        (``Vocabulary.suggest``); None when there is nothing to suggest."""
        languages, _terms = searchable_terms(query, filters, analyze_as)
        words = query_words(query.casefold())
        return self.vocabulary.suggest(searcher, words, languages) or None

    def _best_field(self, term: str) -> tantivy.Query:
        """``term`` in each boosted text field, the best field counting fully (dismax)."""
        per_field = [
            tantivy.Query.boost_query(
                tantivy.Query.term_query(self._schema, field, term, index_option="freq"), boost
            )
            for field, boost in FIELD_BOOSTS.items()
        ]
        return tantivy.Query.disjunction_max_query(per_field, TIE_BREAKER)

    def _text_query(
        self,
        terms: list[str],
        stop: frozenset[str] = frozenset(),
        parts: frozenset[str] = frozenset(),
    ) -> tantivy.Query:
        per_term = []
        for term in terms:
            best_field = self._best_field(term)
            weight = STOP_WORD_WEIGHT if term in stop else 1.0
            if term in parts:
                weight *= COMPOUND_PART_WEIGHT
            if weight != 1.0:
                best_field = tantivy.Query.boost_query(best_field, weight)
            per_term.append((tantivy.Occur.Should, best_field))
        return tantivy.Query.boolean_query(per_term)


def _parts_only(query: str, languages: Sequence[str]) -> frozenset[str]:
    """The query's terms that only a decompounder found (a part of a word, never a word the
    shopper typed): weighed down by ``COMPOUND_PART_WEIGHT``."""
    words = query_words(query.casefold())
    own = {t for word in words for language in languages for t in own_terms(word, language)}
    return (
        frozenset(t for word in words for language in languages for t in part_terms(word, language))
        - own
    )
