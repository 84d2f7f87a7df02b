"""Spelling variants of one whitespace-separated token, the way Lucene's word delimiter does it.

``T-Shirt``, ``tshirt`` and ``t shirt`` are one product to a shopper. Lucene's
``word_delimiter_graph`` filter (and Elasticsearch's, with the options Shelf pins in
``search.recall.elastic.bodies``) makes them meet by emitting, for a token such as ``usb3.0``:

- the parts, split on every character that is neither a letter nor a digit, and at each
  letter-digit boundary (``split_on_numerics``): ``usb``, ``3``, ``0``;
- runs of adjacent letter parts and of adjacent digit parts joined (``catenate_words``,
  ``catenate_numbers``): ``30``; and all parts joined (``catenate_all``): ``usb30``;
- the token itself (``preserve_original``): ``usb3.0``, without the punctuation at its edges
  (``cotton,`` is kept as ``cotton``).

Case is folded before (``split_on_case_change`` is off), and a combining mark belongs to the letter
before it, as in Lucene's character table, so ``e`` + U+0301 is never split into two parts.
Joined forms that would contain CJK characters are not made: CJK text is cut into bigrams.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator
from functools import lru_cache

ALPHA, DIGIT, DELIMITER = "alpha", "digit", "delimiter"


@lru_cache(maxsize=4096)
def char_kind(ch: str) -> str:
    """Lucene's ``WordDelimiterIterator.getType`` in three classes: letters and combining marks
    are ``alpha``, Unicode numbers ``digit``, everything else a ``delimiter``."""
    category = unicodedata.category(ch)
    if category[0] in "LM":
        return ALPHA
    if category[0] == "N":
        return DIGIT
    return DELIMITER


def subwords(token: str) -> list[tuple[str, str]]:
    """The ``(part, kind)`` pairs of ``token``: split on delimiters and letter-digit boundaries.

    ``"wi-fi6"`` -> ``[("wi", "alpha"), ("fi", "alpha"), ("6", "digit")]``.
    """
    parts: list[tuple[str, str]] = []
    start, kind = 0, DELIMITER
    for i, ch in enumerate(token):
        ch_kind = char_kind(ch)
        if ch_kind != kind:
            if kind != DELIMITER:
                parts.append((token[start:i], kind))
            start, kind = i, ch_kind
    if kind != DELIMITER:
        parts.append((token[start:], kind))
    return parts


def _runs(parts: list[tuple[str, str]], kind: str) -> Iterator[str]:
    """Each run of two or more adjacent parts of ``kind``, joined (adjacent in the token's
    order of parts, as Lucene's catenate_words / catenate_numbers join them)."""
    run: list[str] = []
    for text, part_kind in [*parts, ("", DELIMITER)]:
        if part_kind == kind:
            run.append(text)
            continue
        if len(run) > 1:
            yield "".join(run)
        run = []


def _trimmed(token: str) -> str:
    start, end = 0, len(token)
    while start < end and char_kind(token[start]) == DELIMITER:
        start += 1
    while end > start and char_kind(token[end - 1]) == DELIMITER:
        end -= 1
    return token[start:end]


def delimited_terms(token: str, has_cjk: Callable[[str], bool]) -> list[str]:
    """The distinct terms of one token: its parts, then the joined forms and the original.

    ``"t-shirt"`` -> ``["t", "shirt", "tshirt", "t-shirt"]``; a token that is a single part
    (``"shirt"``, ``"cotton,"``) yields just that part. ``has_cjk`` tells whether a string holds
    CJK characters, whose joined forms are not made.
    """
    parts = subwords(token)
    terms = dict.fromkeys(text for text, _ in parts)
    if len(parts) > 1:
        joined = [
            *_runs(parts, ALPHA),
            *_runs(parts, DIGIT),
            "".join(text for text, _ in parts),
            _trimmed(token),
        ]
        for term in joined:
            if not has_cjk(term):
                terms.setdefault(term, None)
    return list(terms)


def joined_pairs(words: list[tuple[str, str]], has_cjk: Callable[[str], bool]) -> Iterator[str]:
    """Each two adjacent letter words (``(part, kind)`` as ``subwords`` gives them) joined, for
    queries: ``t shirt`` -> ``tshirt``, so a query spelled apart finds a title spelled together.

    Digits are never joined: "gift for a 5 year old" must not ask for the model "A5".
    (Elasticsearch: a ``shingle`` filter with an empty separator in the search analyzer.)
    """
    for (left, left_kind), (right, right_kind) in zip(words, words[1:], strict=False):
        if left_kind == right_kind == ALPHA and not has_cjk(left) and not has_cjk(right):
            yield left + right
