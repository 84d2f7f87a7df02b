"""The embedded index's vocabulary, for typo tolerance: which terms it holds (tantivy's
``doc_freq``), the index terms a few edits from a misspelled one (tantivy's term dictionary,
``terms_with_prefix``, measured with rapidfuzz's optimal string alignment distance) and a
"did you mean" built from the catalog's own words.

The term dictionary is read per first character, as ``PREFIX_LENGTH`` allows, and kept until the
index changes (its document or segment count), so it stays in step with every commit, including
another process's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import TypeVar

import tantivy
from rapidfuzz import process
from rapidfuzz.distance import OSA

from catalog.analysis import analyze, normalize_text
from catalog.product import Product
from search.recall import FIELD_BOOSTS
from search.recall.lexical import (
    MAX_EXPANSIONS,
    PREFIX_LENGTH,
    WORD_EDGES,
    correctable,
    word_terms,
)

FIELDS: tuple[str, ...] = tuple(FIELD_BOOSTS)
# "Did you mean" looks further than recall's corrections: two edits from four characters on.
SUGGEST_EDITS = 2
SUGGEST_FROM = 4
SURFACE_PRODUCTS = 3  # products read to find how a term is written
MEMO_SIZE = 4096  # remembered answers per index state (a search asks again for each facet)
T = TypeVar("T")


class Vocabulary:
    """Index terms by their first characters, with document frequencies summed over the text
    fields; refreshed when the searcher shows another index state."""

    def __init__(self, schema: tantivy.Schema) -> None:
        self._schema = schema
        self._state: tuple[int, int] | None = None
        self._by_prefix: dict[str, dict[str, int]] = {}
        self._memo: dict[Hashable, object] = {}
        self._lock = threading.Lock()

    def holds(self, searcher: tantivy.Searcher, terms: Iterable[str]) -> bool:
        """Whether any of ``terms`` is in some text field of the index."""
        return any(searcher.doc_freq(field, term) > 0 for term in terms for field in FIELDS)

    def near(self, searcher: tantivy.Searcher, term: str, edits: int) -> list[str]:
        """Index terms at most ``edits`` edits (transpositions count one) from ``term``, with
        its first ``PREFIX_LENGTH`` characters: nearest first, then the most frequent, then
        alphabetical; at most ``MAX_EXPANSIONS``."""
        if edits <= 0 or len(term) <= PREFIX_LENGTH:
            return []
        terms = self._terms(searcher, term[:PREFIX_LENGTH])
        choices = [t for t in terms if abs(len(t) - len(term)) <= edits and t != term]
        found = process.extract(
            term, choices, scorer=OSA.distance, score_cutoff=edits, limit=None
        )  # fmt: skip
        found.sort(key=lambda match: (match[1], -terms[match[0]], match[0]))
        return [match[0] for match in found[:MAX_EXPANSIONS]]

    def suggest(
        self, searcher: tantivy.Searcher, words: Sequence[str], languages: Sequence[str]
    ) -> str:
        """``words`` with each word the index does not hold replaced by the catalog word nearest
        to it (``SUGGEST_EDITS`` edits, from ``SUGGEST_FROM`` characters, digits and CJK kept
        as typed); "" when no word changed."""
        changed, out = False, []
        for word in words:
            terms = word_terms(word, languages)
            if not terms or not correctable(word) or self.holds(searcher, terms):
                out.append(word)  # known, or a model number or CJK (never corrected)
                continue
            near = [] if len(word) < SUGGEST_FROM else self._nearest(searcher, terms)
            surface = (self.surface(searcher, near[0], word) or near[0]) if near else None
            changed = changed or surface is not None
            out.append(surface or word)
        return " ".join(out) if changed else ""

    def remembered(self, searcher: tantivy.Searcher, key: Hashable, answer: Callable[[], T]) -> T:
        """``answer()``, remembered under ``key`` until the index changes: a result page builds
        its lexical query once per facet group and page, with the same corrections each time."""
        state = self._current(searcher)
        with self._lock:
            if key in self._memo:
                return self._memo[key]  # type: ignore[return-value]
        value = answer()
        with self._lock:
            if state == self._state:
                if len(self._memo) >= MEMO_SIZE:
                    self._memo.clear()
                self._memo[key] = value
        return value

    def _current(self, searcher: tantivy.Searcher) -> tuple[int, int]:
        """The index state ``searcher`` shows; what is kept for another state is dropped."""
        state = (int(searcher.num_docs), int(searcher.num_segments))
        with self._lock:
            if state != self._state:
                self._state, self._by_prefix, self._memo = state, {}, {}
        return state

    def _terms(self, searcher: tantivy.Searcher, prefix: str) -> dict[str, int]:
        state = self._current(searcher)
        with self._lock:
            cached = self._by_prefix.get(prefix)
        if cached is not None:
            return cached
        terms: dict[str, int] = {}
        for field in FIELDS:
            for term, count in searcher.terms_with_prefix(field, prefix):
                terms[term] = terms.get(term, 0) + int(count)
        with self._lock:
            if state == self._state:
                self._by_prefix[prefix] = terms
        return terms

    def _nearest(self, searcher: tantivy.Searcher, terms: Sequence[str]) -> list[str]:
        """The index terms nearest to any of ``terms`` (a word's analyses in its languages)."""
        found = {
            (OSA.distance(term, near), near)
            for term in terms
            for near in self.near(searcher, term, SUGGEST_EDITS)
        }
        return [near for _distance, near in sorted(found)]

    def surface(self, searcher: tantivy.Searcher, term: str, typed: str = "") -> str | None:
        """A word of the catalog's text that analyses to ``term`` (index terms are stems:
        ``headphon`` is shown as ``headphones``): of the words that are nothing but it, the
        nearest to ``typed``; else one that holds it; None when no product's text holds it."""
        query = tantivy.Query.boolean_query(
            [
                (tantivy.Occur.Should, tantivy.Query.term_query(self._schema, field, term))
                for field in FIELDS
            ]
        )
        hits = searcher.search(query, limit=SURFACE_PRODUCTS, count=False).hits
        partial, whole = None, set()
        for _score, address in hits:
            product = Product.model_validate_json(searcher.doc(address)["source"][0])
            texts = [(product.title, product.locale), (product.brand, product.locale),
                     (product.category, product.locale), *((t, product.locale) for t in
                     product.bullets), (product.description, product.locale),
                     *((t, locale) for locale, t in product.localized_titles.items())]  # fmt: skip
            for text, locale in texts:
                for word in normalize_text(text).split():
                    word = word.strip(WORD_EDGES)
                    terms = analyze(word, locale) if word else []
                    if terms == [term]:
                        whole.add(word)
                    elif partial is None and term in terms:
                        partial = word
        if whole:
            return min(whole, key=lambda word: (OSA.distance(word, typed), word))
        return partial
