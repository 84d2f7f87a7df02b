"""One language's completions and the prefix lookup over them.

The completions are ranked once, at build: by witnesses (popular queries), then by products
(catalog frequency), ties by key. Their keys go into a MARISA trie (``marisa-trie``: a static,
compact trie in C++), whose key ids map to ranks:

- a "hot" prefix, one that more than ``HOT_PREFIX_MATCHES`` completions start with (``s``,
  ``wir``, ``无线``), has its best ``max_limit`` ranks precomputed at build;
- any other prefix lists its (at most ``HOT_PREFIX_MATCHES``) completions from the trie and sorts
  them by rank. So no lookup ever handles more than a few hundred completions per prefix.

Exact prefixes work in any script, CJK included (a prefix of characters; no word boundaries
needed). A Latin-script prefix of ``TYPO_MIN_CHARS`` to ``TYPO_MAX_CHARS`` characters, digits
excepted (model numbers are typed exactly), also matches the completions one edit away
(Damerau-Levenshtein, optimal string alignment: a deletion, a substitution or insertion of a
Latin letter or a space, or a transposition of adjacent characters) after the exact ones: those
starting with a one-edit variant of the prefix, which is what a prefix Levenshtein automaton of
distance 1 accepts (Schulz & Mihov 2002). A completion that needs no edit always comes first,
as Algolia ranks typos before popularity.
"""

from __future__ import annotations

import os.path
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import marisa_trie

from search.suggest.text import is_latin

TYPO_MIN_CHARS = 4
TYPO_MAX_CHARS = 64  # bounds a lookup's work: a longer prefix is matched exactly
HOT_PREFIX_MATCHES = 256


@dataclass(frozen=True)
class Completion:
    """A completion as built: its key, the text shown, witnesses who searched it with results
    (``users``: client networks or clicking shoppers; 0: not a popular query) and products
    whose catalog words hold it (0: none)."""

    key: str
    text: str
    users: int
    products: int


@dataclass(frozen=True)
class Suggestion:
    """A completion as answered; ``typo``: it matched the prefix with one edit."""

    text: str
    users: int
    products: int
    typo: bool = False


def rank_order(completion: Completion) -> tuple[int, int, str]:
    """The ranking: most users first, then most products, ties by key."""
    return (-completion.users, -completion.products, completion.key)


class PrefixIndex:
    """The completions of one language, ranked, answering prefix lookups (read-only once built;
    safe to share between threads)."""

    def __init__(self, completions: Iterable[Completion], *, typo_tolerant: bool, max_limit: int):
        """Rank ``completions`` (one per key) and index them; ``typo_tolerant`` for a language
        written in Latin script; ``max_limit``: the most a lookup may ask for."""
        self.ranked = sorted(completions, key=rank_order)
        self.typo_tolerant = typo_tolerant
        self.max_limit = max_limit
        self._trie = marisa_trie.Trie([c.key for c in self.ranked])
        self._rank_of_id = [0] * len(self.ranked)
        for rank, completion in enumerate(self.ranked):
            self._rank_of_id[self._trie[completion.key]] = rank
        self._hot = _hot_prefix_answers(self.ranked, max_limit)
        # What a typo may substitute or insert: the keys' Latin letters, and a space.
        letters = {ch for c in self.ranked for ch in c.key if ch.isalpha()}
        self._typo_letters = frozenset({" ", *(ch for ch in letters if is_latin(ch))})
        self._hot_following = _following_letters(self.ranked, self._hot, self._typo_letters)

    def __len__(self) -> int:
        return len(self.ranked)

    def lookup(self, prefix: str, limit: int, *, typos: bool = True) -> list[Suggestion]:
        """The best ``limit`` completions of ``prefix`` (a ``prefix_key``): exact prefix matches
        by rank, then (unless ``typos`` is False), for a Latin prefix of ``TYPO_MIN_CHARS``+
        characters in a typo-tolerant language, those one edit away, by rank."""
        limit = min(limit, self.max_limit)
        ranks = self._ranks(prefix, limit)
        found = [self._suggestion(rank, typo=False) for rank in ranks]
        if typos and len(found) < limit and self._typos_allowed(prefix):
            exact = set(ranks)
            more: set[int] = set()
            for variant in self._one_edit_variants(prefix):
                more.update(self._ranks(variant, limit + len(exact)))
            typos_found = sorted(more - exact)[: limit - len(found)]
            found += [self._suggestion(rank, typo=True) for rank in typos_found]
        return found

    def _one_edit_variants(self, prefix: str) -> Iterator[str]:
        """The strings one edit from ``prefix`` that a completion one edit away must start with:
        ``prefix`` less its last character (which covers every edit at the end), and each
        deletion, substitution, insertion and adjacent transposition before it. An edit at
        position ``i`` keeps ``prefix[:i]``: only positions where that still starts a completion
        are tried, and a letter substituted or inserted there must follow ``prefix[:i]`` in
        some completion."""
        head = len(prefix) - 1
        yield prefix[:head]
        for i in range(head):
            following = self._following(prefix[:i])
            if following is None:
                return  # prefix[:i] starts no completion, nor does any longer start
            yield prefix[:i] + prefix[i + 1 :]
            yield prefix[:i] + prefix[i + 1] + prefix[i] + prefix[i + 2 :]
            for letter in following:
                if letter != prefix[i]:
                    yield prefix[:i] + letter + prefix[i + 1 :]
                yield prefix[:i] + letter + prefix[i:]

    def _following(self, start: str) -> str | None:
        """The typo letters that follow ``start`` in the completions; None when no completion
        starts with it. Precomputed for the hot prefixes, else read from its at most
        ``HOT_PREFIX_MATCHES`` keys."""
        known = self._hot_following.get(start)
        if known is not None:
            return known
        keys = self._trie.keys(start)
        if not keys:
            return None
        at = len(start)
        return "".join({key[at] for key in keys if len(key) > at} & self._typo_letters)

    def _ranks(self, prefix: str, limit: int) -> list[int]:
        """The best ``limit`` ranks of the completions starting with ``prefix``."""
        hot = self._hot.get(prefix)
        if hot is not None:
            return hot[:limit]
        return sorted(self._rank_of_id[key_id] for _key, key_id in self._trie.items(prefix))[:limit]

    def _typos_allowed(self, prefix: str) -> bool:
        return (
            self.typo_tolerant
            and TYPO_MIN_CHARS <= len(prefix.strip()) <= TYPO_MAX_CHARS
            and is_latin(prefix)
            and not any(ch.isdigit() for ch in prefix)
        )

    def _suggestion(self, rank: int, *, typo: bool) -> Suggestion:
        completion = self.ranked[rank]
        return Suggestion(completion.text, completion.users, completion.products, typo)


def _following_letters(
    ranked: list[Completion], hot: dict[str, list[int]], latin: frozenset[str]
) -> dict[str, str]:
    """For each hot prefix, the typo letters (``latin``) that follow it in some completion."""
    following: dict[str, set[str]] = {prefix: set() for prefix in hot}
    for completion in ranked:
        key = completion.key
        for end in range(len(key)):
            letters = following.get(key[:end])
            if letters is None:
                break
            if key[end] in latin:
                letters.add(key[end])
    return {prefix: "".join(sorted(letters)) for prefix, letters in following.items()}


def _hot_prefix_answers(ranked: list[Completion], limit: int) -> dict[str, list[int]]:
    """For the empty prefix and every prefix that more than ``HOT_PREFIX_MATCHES`` completions
    start with, the ranks of its first ``limit``. Such a prefix is shared by the keys ``i`` and
    ``i + HOT_PREFIX_MATCHES`` of the sorted keys, for some ``i``: found in one pass."""
    keys = sorted(c.key for c in ranked)
    hot: set[str] = set()
    for low, high in zip(keys, keys[HOT_PREFIX_MATCHES:], strict=False):
        shared = os.path.commonprefix([low, high])
        while shared and shared not in hot:
            hot.add(shared)
            shared = shared[:-1]
    answers: dict[str, list[int]] = {"": list(range(min(limit, len(ranked))))}
    answers.update((prefix, []) for prefix in hot)
    longest = max(map(len, hot), default=0)
    for rank, completion in enumerate(ranked):
        for end in range(1, min(len(completion.key), longest) + 1):
            ranks = answers.get(completion.key[:end])
            if ranks is None:
                break  # a longer prefix of a prefix that is not hot is not hot either
            if len(ranks) < limit:
                ranks.append(rank)
    return answers
