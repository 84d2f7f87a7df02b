"""Stop words at a completion's edges: no completion is a stop word, starts with one or ends
with one (``für``, ``für Katzen``, ``cable with``), in every language that has a stop-word list.

A word is a stop word of a language when it is, case-folded (NFKC), on the list search
analysis drops (``catalog.analysis.stop_terms`` analyses the ``stop-words`` package's lists).
The word itself is compared, not its stem: ``für`` is on the German list (search's analysed
``fur`` never met the word as typed), while ``grano`` stems to the listed ``gran`` and ``té`` to
``te`` and are not stop words. CJK languages have no list (search cuts CJK text into bigrams,
which whole-word lists do not describe), so nothing is dropped there.
"""

from __future__ import annotations

import unicodedata
from functools import cache, lru_cache

from stop_words import safe_get_stop_words

from catalog.locales import LANGUAGES


@cache
def _listed(language: str) -> frozenset[str]:
    if LANGUAGES[language].script == "cjk":
        return frozenset()
    return frozenset(_folded(word) for word in safe_get_stop_words(language))


def _folded(word: str) -> str:
    return unicodedata.normalize("NFKC", word).casefold()


@lru_cache(maxsize=65_536)
def is_stop_word(word: str, language: str) -> bool:
    """True when ``word`` (one word, any case) is a stop word of ``language`` (a language code
    of ``catalog.locales.LANGUAGES``; see the module docstring)."""
    return _folded(word) in _listed(language)


def has_stop_word_edge(text: str, language: str | None) -> bool:
    """True when the first or the last whitespace-separated word of ``text`` is a stop word of
    ``language`` (None: a language not known, so no list: False)."""
    words = text.split()
    if language is None or not words:
        return False
    return is_stop_word(words[0], language) or is_stop_word(words[-1], language)
