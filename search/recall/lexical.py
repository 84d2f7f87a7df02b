"""What the lexical (BM25) leg searches beyond the query's own terms, for both backends: the
synonyms a query's phrases bring (decided above the seam, from ``search.synonyms.model``) and the
typo
rules (which words may be corrected, and by how many edits).

Typo tolerance follows Elasticsearch's ``fuzziness: "AUTO:5,9"`` with ``prefix_length: 1`` and
transpositions counting one edit (optimal string alignment, the restricted Damerau-Levenshtein
distance; Damerau 1964, Boytsov 2011): a term of 5 to 8 characters may be one edit away from an
index term, a term of 9 or more two edits, and the first character is never edited. Words holding
a digit (model numbers: ``iphone15``, ``rtx4090``, ``x200``) and CJK text are never corrected.
The embedded backend corrects only words the index's vocabulary does not hold; see
``search.recall.embedded.vocabulary``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from catalog.analysis import analyze, normalize_text
from catalog.decompound import compound_parts, word_list
from catalog.locales import language_of

if TYPE_CHECKING:
    from search.query.budget import Deadline

# A corrected term weighs half an exact one, and a synonym's terms half the query's own: a
# product holding what the shopper typed never ranks below one holding only its stand-in for
# that word (the same BM25 term statistics aside).
TYPO_WEIGHT = 0.5
SYNONYM_WEIGHT = 0.5
ONE_EDIT_FROM = 5  # term length (characters) from which one edit is tolerated
TWO_EDITS_FROM = 9  # and from which two are
PREFIX_LENGTH = 1  # leading characters a correction keeps as typed
MAX_EXPANSIONS = 5  # index terms one misspelled term may stand for, nearest first

WORD_EDGES = "".join(chr(c) for c in range(0x21, 0x7F) if not chr(c).isalnum()) + "¡¿«»“”„‘’"
_DIGIT = re.compile(r"\d")
# CJK ideographs, kana and hangul: one edit there changes the word, not its spelling.
_CJK = re.compile("[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f]")


def correctable(word: str) -> bool:
    """Whether a word may ever be corrected: it holds no digit (a model number) and no CJK."""
    return not (_DIGIT.search(word) or _CJK.search(word))


def allowed_edits(term: str) -> int:
    """How many edits (0, 1 or 2) a correction of ``term`` may make: 0 for a term shorter than
    ``ONE_EDIT_FROM`` characters, holding a digit or CJK; 1 up to ``TWO_EDITS_FROM - 1``; else
    2. ``term`` is a normalised word as typed."""
    if len(term) < ONE_EDIT_FROM or not correctable(term):
        return 0
    return 1 if len(term) < TWO_EDITS_FROM else 2


def query_words(text: str) -> list[str]:
    """The words of a normalised query, punctuation at their ends stripped, empty ones left out."""
    return [w for word in text.split() if (w := word.strip(WORD_EDGES))]


def typo_words(text: str) -> list[str]:
    """The words of a normalised query that typo tolerance may correct, in query order:
    ``allowed_edits(word) > 0``, each once."""
    return list(dict.fromkeys(word for word in query_words(text) if allowed_edits(word)))


@lru_cache(maxsize=50_000)
def own_terms(word: str, language: str) -> tuple[str, ...]:
    """The analysed terms of one word in ``language`` without the parts a decompounder adds
    (``kaffeeflecken`` -> ``kaffeefleck``, not ``kaffe`` or ``fleck``): what says whether the
    word itself is in the index, and what a synonym phrase's words must match. All its terms
    when every one is a part."""
    terms = analyze(word, language)
    words = word_list(language_of(language).code)
    if not words:
        return tuple(terms)
    whole = normalize_text(word)
    split = [part for part in compound_parts(whole, words) if part != whole]
    parts = {term for part in split for term in analyze(part, language)}
    return tuple(t for t in terms if t not in parts) or tuple(terms)


@lru_cache(maxsize=50_000)
def part_terms(word: str, language: str) -> tuple[str, ...]:
    """The analysed terms a decompounder adds for ``word`` in ``language`` and that are not
    among its ``own_terms`` (``kaffeeflecken`` -> ``kaffe``, ``fleck``, ...); empty in a
    language without a compound word list."""
    words = word_list(language_of(language).code)
    if not words:
        return ()
    whole = normalize_text(word)
    own = set(own_terms(word, language))
    split = [part for part in compound_parts(whole, words) if part != whole]
    return tuple(
        dict.fromkeys(t for part in split for t in analyze(part, language) if t not in own)
    )


def word_terms(word: str, languages: Iterable[str]) -> list[str]:
    """``own_terms`` of ``word`` in each of ``languages``, distinct, first-seen order."""
    return list(dict.fromkeys(t for language in languages for t in own_terms(word, language)))


@dataclass(frozen=True)
class SynonymUse:
    """A phrase of the query that a synonym rule names, and what it also searches for."""

    term: str
    also: tuple[str, ...]


@dataclass(frozen=True)
class Correction:
    """A query word the index does not hold: the catalog words it was read as (``to``, shown to
    the shopper) and the index terms searched for them (``terms``: stems on the embedded
    backend)."""

    term: str
    to: tuple[str, ...]
    terms: tuple[str, ...] = ()


@dataclass(frozen=True)
class LexicalOptions:
    """What the BM25 leg searches besides the query's terms: the synonyms that apply (found
    above the seam), whether misspelled words are corrected and, under the query's budget, how
    many of its correctable words (``typo_words``, in query order) may be (None: all).
    ``deadline`` is checked in the loops that build the query; it is no part of the options'
    identity (equal options build the same query)."""

    synonyms: tuple[SynonymUse, ...] = ()
    typos: bool = True
    max_corrections: int | None = None
    deadline: Deadline | None = field(default=None, compare=False, repr=False)

    def correctable(self, query: str) -> list[str]:
        """The words of ``query`` (normalised) that may be corrected: none without typo
        tolerance, else ``typo_words`` up to ``max_corrections``."""
        if not self.typos:
            return []
        words = typo_words(query.casefold())
        return words if self.max_corrections is None else words[: self.max_corrections]

    def check(self, stage: str) -> None:
        """Stop (``Deadline.check``) when the search's deadline passed or it was abandoned."""
        if self.deadline is not None:
            self.deadline.check(stage)


def phrase_terms(phrase: str, languages: Iterable[str]) -> set[tuple[str, ...]]:
    """A synonym phrase's words as index terms, one tuple per analysis language (each word's
    ``own_terms``), distinct: what the lexical query requires for it, each tuple one
    alternative."""
    return {
        tuple(t for word in phrase.split() for t in own_terms(word, language))
        for language in languages
    } - {()}


NO_EXPANSION = LexicalOptions(typos=False)
