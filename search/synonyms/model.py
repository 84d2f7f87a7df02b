"""Synonym rules: the model shared by their store (``search.synonyms.store``), the API and CLI
that manage them, and the BM25 leg that applies them at query time.

The text format is Solr's and Elasticsearch's synonym format, one rule per line:

- ``sneakers, trainers, running shoes``: equivalent; a query holding any of them also searches
  for the others.
- ``tv, telly => television``: one-way; a query holding ``tv`` or ``telly`` also searches for
  ``television``, never the other way round.

Each rule belongs to one language (a language code, e.g. ``de``) or to every language (``None``).
Terms are compared after ``normalize_phrase``: NFKC, case folding, whitespace collapsed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from search.query.budget import Deadline

MAX_TERM_CHARS = 100
MAX_TERMS_PER_RULE = 32
# Synonym alternatives one query searches for, whatever the rules (a query's term budget,
# SHELF_SEARCH_MAX_TERMS, may keep fewer): 300 rules of 32 terms once made one query search
# 59,000 phrases.
MAX_EXPANSION_TERMS = 64
_SPACE = re.compile(r"\s+")
_PUNCTUATION = "".join(chr(c) for c in range(0x21, 0x7F) if not chr(c).isalnum()) + "¡¿«»“”„‘’"


def normalize_phrase(text: str) -> str:
    """NFKC, case folding and collapsed whitespace: how rule terms and query text are compared."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


@dataclass(frozen=True)
class SynonymRule:
    """One rule. Equivalent: ``replacements`` is empty and every term stands for the others.
    One-way: each of ``terms`` also searches for each of ``replacements``."""

    terms: tuple[str, ...]
    replacements: tuple[str, ...] = ()
    language: str | None = None  # a language code; None: every language

    @property
    def kind(self) -> str:
        """``equivalent`` or ``one_way``."""
        return "one_way" if self.replacements else "equivalent"

    def line(self) -> str:
        """The rule in the text format (``a, b`` or ``a => b``)."""
        if self.replacements:
            return f"{', '.join(self.terms)} => {', '.join(self.replacements)}"
        return ", ".join(self.terms)


def _terms(side: str, where: str) -> tuple[str, ...]:
    terms = [normalize_phrase(part) for part in side.split(",")]
    if any(not term for term in terms):
        raise ValueError(f"{where} has an empty term (two commas, or a comma at an end)")
    for term in terms:
        if len(term) > MAX_TERM_CHARS:
            raise ValueError(
                f"{where} has a term of {len(term)} characters; at most {MAX_TERM_CHARS}"
            )
        if any(not ch.isprintable() for ch in term):
            raise ValueError(f"{where} has a control character in {term!r}")
    return tuple(dict.fromkeys(terms))


def parse_synonym_line(line: str, language: str | None = None) -> SynonymRule:
    """One rule from its text (``a, b, c`` or ``a, b => c``); ``ValueError`` saying what is
    wrong: no terms, an empty term, more than one ``=>``, an equivalent rule of one term, a
    one-way rule mapping a term to itself, too many or too long terms."""
    text = line.strip()
    if not text:
        raise ValueError("the rule is empty")
    if text.count("=>") > 1:
        raise ValueError("a rule has at most one '=>'")
    if "=>" in text:
        left, right = text.split("=>")
        terms, replacements = _terms(left, "the left side"), _terms(right, "the right side")
        if set(terms) & set(replacements) == set(terms) and set(replacements) <= set(terms):
            raise ValueError("a one-way rule maps its terms to themselves")
    else:
        terms, replacements = _terms(text, "the rule"), ()
        if len(terms) < 2:
            raise ValueError("an equivalent rule needs at least two different terms (a, b)")
    if len(terms) + len(replacements) > MAX_TERMS_PER_RULE:
        raise ValueError(f"a rule has at most {MAX_TERMS_PER_RULE} terms")
    return SynonymRule(terms=terms, replacements=replacements, language=language)


@dataclass(frozen=True)
class Expansion:
    """The synonyms one query brings: ``named`` (each phrase a rule names, with what it also
    searches for, at most one more than the budget each), ``picked`` (the alternatives kept,
    as ``(index into named, alternative)`` in the order the budget took them) and ``dropped``
    (at least this many alternatives were left out; 0: none)."""

    named: list[tuple[str, tuple[str, ...]]]
    picked: tuple[tuple[int, str], ...]
    dropped: int = 0

    @property
    def uses(self) -> list[tuple[str, tuple[str, ...]]]:
        """The phrases with the alternatives kept, in query order (each phrase's in its
        rules' order); phrases with none kept are left out."""
        return self.first(len(self.picked))

    def first(self, count: int) -> list[tuple[str, tuple[str, ...]]]:
        """``uses`` as if only the first ``count`` picked alternatives were kept."""
        kept: dict[int, set[str]] = {}
        for i, alternative in self.picked[: max(count, 0)]:
            kept.setdefault(i, set()).add(alternative)
        return [
            (phrase, tuple(a for a in also if a in kept[i]))
            for i, (phrase, also) in enumerate(self.named)
            if i in kept
        ]


@dataclass(frozen=True)
class SynonymSet:
    """The rules a search applies, indexed by term. Built once per store snapshot."""

    rules: tuple[SynonymRule, ...] = ()
    # term -> what it also searches for, per language (None: rules of every language)
    _also: dict[tuple[str | None, str], tuple[str, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @classmethod
    def of(cls, rules: Iterable[SynonymRule]) -> SynonymSet:
        """A set of ``rules``, indexed: each term maps to the terms it also searches for."""
        kept = tuple(rules)
        also: dict[tuple[str | None, str], dict[str, None]] = {}
        for rule in kept:
            targets = rule.replacements or rule.terms
            for term in rule.terms:
                found = also.setdefault((rule.language, term), {})
                for target in targets:
                    if target != term:
                        found[target] = None
        return cls(kept, {key: tuple(found) for key, found in also.items()})

    def also_searches(
        self, term: str, languages: Iterable[str | None], limit: int | None = None
    ) -> tuple[str, ...]:
        """What ``term`` (a normalised phrase) also searches for under the rules of
        ``languages`` and of every language, first-seen order; at most ``limit`` (None: all)."""
        found: dict[str, None] = {}
        for language in (*languages, None):
            for target in self._also.get((language, term), ()):
                if limit is not None and len(found) >= limit:
                    return tuple(found)
                found.setdefault(target, None)
        return tuple(found)

    @cached_property
    def _longest_phrase(self) -> int:
        """Words in the longest rule term (how far ``expansions`` looks ahead)."""
        return max((len(term.split()) for _language, term in self._also), default=0)

    def expansions(
        self,
        text: str,
        languages: Iterable[str | None],
        *,
        max_terms: int = MAX_EXPANSION_TERMS,
        deadline: Deadline | None = None,
    ) -> list[tuple[str, tuple[str, ...]]]:
        """``expand(...).uses``: the phrases of ``text`` that rules name, each with what it
        also searches for, in query order, at most ``max_terms`` alternatives in all."""
        return self.expand(text, languages, max_terms=max_terms, deadline=deadline).uses

    def expand(
        self,
        text: str,
        languages: Iterable[str | None],
        *,
        max_terms: int = MAX_EXPANSION_TERMS,
        deadline: Deadline | None = None,
    ) -> Expansion:
        """The phrases of ``text`` (a query) that rules of ``languages`` or of every language
        name, each with what it also searches for, in query order. Phrases are whole words of
        ``normalize_phrase(text)`` (punctuation at a word's ends ignored); the longest phrase
        starting at a word wins and its words are not matched again (``running shoes`` before
        ``shoes``).

        Whatever the rules, at most ``max_terms`` alternatives are kept (``MAX_EXPANSION_TERMS``
        unless the caller's budget is smaller), chosen round robin over the phrases in query
        order (each phrase's first alternative, then each one's second, ...): the same query
        always keeps the same ones. ``deadline`` is checked per word (``synonyms``)."""
        words = [word.strip(_PUNCTUATION) for word in normalize_phrase(text).split()]
        languages = tuple(languages)
        longest = self._longest_phrase
        named: list[tuple[str, tuple[str, ...]]] = []
        max_terms = max(max_terms, 0)
        start = 0
        while start < len(words):
            if deadline is not None:
                deadline.check("synonyms")
            for size in range(min(longest, len(words) - start), 0, -1):
                phrase = " ".join(words[start : start + size])
                # One more than can be kept: enough to know that some were left out.
                also = self.also_searches(phrase, languages, max_terms + 1) if phrase else ()
                if also:
                    named.append((phrase, also))
                    start += size
                    break
            else:
                start += 1
        picked: list[tuple[int, str]] = []
        depth = 0
        while len(picked) < max_terms and any(depth < len(also) for _p, also in named):
            for i, (_phrase, also) in enumerate(named):
                if depth < len(also) and len(picked) < max_terms:
                    picked.append((i, also[depth]))
            depth += 1
        offered = sum(len(also) for _phrase, also in named)
        return Expansion(named, tuple(picked), offered - len(picked))

    def __len__(self) -> int:
        return len(self.rules)


def synonyms_as_json(synonyms: SynonymSet) -> list[list[object]]:
    """A set's rules as JSON-able rows ``[terms, replacements, language]`` (its local copy)."""
    return [[list(r.terms), list(r.replacements), r.language] for r in synonyms.rules]


def synonyms_from_json(rows: list[list[object]]) -> SynonymSet:
    """The set ``synonyms_as_json`` wrote, indexed again."""
    return SynonymSet.of(
        SynonymRule(tuple(terms), tuple(replacements), language)  # type: ignore[arg-type]
        for terms, replacements, language in rows
    )
