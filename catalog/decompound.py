"""Compound words split into the dictionary words inside them, as Lucene's
``DictionaryCompoundWordTokenFilter`` (Elasticsearch's ``dictionary_decompounder``) does.

German writes a product as one word (``Kaffeeflecken``, ``Schreibtischstuhl``) that a shopper
spells as two, or names by one part (``Stuhl``). An index term and a query term therefore also
yield the words of the language's word list that they contain, so ``Kaffeeflecken`` meets
``Fleckenlöser`` through ``flecken`` and ``Schreibtischstuhl`` meets ``Bürostuhl`` through
``stuhl``.

The algorithm is Lucene's, with its options as Shelf pins them for Elasticsearch
(``search.recall.elastic.bodies.DECOMPOUNDERS``): a word of at least ``MIN_WORD_SIZE`` characters
is scanned from each position, and the longest word-list entry of ``MIN_SUBWORD_SIZE`` to
``MAX_SUBWORD_SIZE`` characters that starts there is a part (``only_longest_match``). Both
backends read the same file, so they cut a word into the same parts.

The word lists (``catalog/data/decompound_<lang>.txt``, one casefolded word a line after ``#``
lines naming the source and its licence) are built by
``catalog.decompound_words`` from the nouns of the igerman98 hunspell dictionary as Debian packages
it (``hunspell-de-de``). See the README, "How recall analyses text".
"""

from __future__ import annotations

from functools import cache
from importlib import resources

MIN_WORD_SIZE = 5  # shorter words are not split (Lucene's default)
MIN_SUBWORD_SIZE = 4  # parts of 2-3 letters ("ei", "ohr") match inside too many words
MAX_SUBWORD_SIZE = 15  # Lucene's default
ONLY_LONGEST_MATCH = True  # per starting position: "kaffee", not also "kaff"

# The languages whose words are split, and their word list's file (package data of ``catalog``).
# Dutch is not among them: see the README (no judged Dutch queries to show it helps).
WORD_LISTS: dict[str, str] = {"de": "decompound_de.txt"}


@cache
def word_list(language: str) -> frozenset[str]:
    """The casefolded words ``language``'s compounds are split into (empty when it has none)."""
    name = WORD_LISTS.get(language)
    if name is None:
        return frozenset()
    text = resources.files("catalog").joinpath("data", name).read_text(encoding="utf-8")
    lines = (line.strip() for line in text.splitlines())
    return frozenset(line for line in lines if line and not line.startswith("#"))


def compound_parts(word: str, words: frozenset[str]) -> list[str]:
    """The parts of ``word`` (casefolded, one token) found in ``words``, in order of position.

    Lucene's ``DictionaryCompoundWordTokenFilter.decompose`` with ``only_longest_match``: from
    each position, the longest entry of ``MIN_SUBWORD_SIZE``..``MAX_SUBWORD_SIZE`` characters
    that starts there. ``"kaffeeflecken"`` -> ``["kaffee", "affe", "flecken", "ecke"]`` with the
    German list (the inner ``affe`` and ``ecke`` are what a brute-force split costs). A word
    shorter than ``MIN_WORD_SIZE`` has no parts. Cost: O(len(word) * MAX_SUBWORD_SIZE) set
    lookups; callers cache per token.
    """
    length = len(word)
    if length < MIN_WORD_SIZE or not words:
        return []
    parts: list[str] = []
    for start in range(length - MIN_SUBWORD_SIZE + 1):
        longest = ""
        for size in range(MIN_SUBWORD_SIZE, min(MAX_SUBWORD_SIZE, length - start) + 1):
            candidate = word[start : start + size]
            if candidate in words:
                if not ONLY_LONGEST_MATCH:
                    parts.append(candidate)
                longest = candidate
        if ONLY_LONGEST_MATCH and longest:
            parts.append(longest)
    return parts
