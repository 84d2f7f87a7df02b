"""The typo rule as a property: over Latin letters and spaces, a completion is suggested with one
typo exactly when some prefix of it is within one edit (optimal string alignment) of what was
typed, after the exact matches; with most prefixes precomputed (hot) or none."""

from __future__ import annotations

from unittest.mock import patch

from hypothesis import given, settings
from hypothesis import strategies as st

from search.suggest.index import Completion, PrefixIndex

WORD = st.text(alphabet="abcé ", min_size=0, max_size=7)


def osa_distance(a: str, b: str) -> int:
    """Optimal string alignment distance (Damerau-Levenshtein without repeated edits)."""
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1,
                          d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))  # fmt: skip
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


@st.composite
def typed(draw: st.DrawFn, keys: set[str]) -> str:
    """What a shopper may type: the start of one of ``keys``, as it is or with one edit (a
    deletion, substitution, insertion or transposition), or anything at all."""
    if draw(st.booleans()):
        return draw(WORD)
    key = draw(st.sampled_from(sorted(keys)))
    text = key[: draw(st.integers(0, len(key)))]
    if not text:
        return text
    i = draw(st.integers(0, len(text) - 1))
    letter = draw(st.sampled_from("abcé "))
    return draw(st.sampled_from([
        text,
        text[:i] + text[i + 1 :],
        text[:i] + letter + text[i + 1 :],
        text[:i] + letter + text[i:],
        text[:i] + text[i + 1 : i + 2] + text[i] + text[i + 2 :],
    ]))  # fmt: skip


@given(data=st.data(), keys=st.sets(WORD.filter(bool), min_size=1, max_size=40))
@settings(max_examples=200, deadline=None)
def test_a_lookup_answers_exact_matches_then_typos_each_by_rank(
    data: st.DataObject, keys: set[str]
) -> None:
    prefix = data.draw(typed(keys))
    completions = [Completion(k, k, len(k) % 3, len(k) % 5) for k in keys]
    index = PrefixIndex(completions, typo_tolerant=True, max_limit=100)
    found = index.lookup(prefix, 100)
    with patch("search.suggest.index.HOT_PREFIX_MATCHES", 2):  # most prefixes precomputed
        assert (
            PrefixIndex(completions, typo_tolerant=True, max_limit=100).lookup(prefix, 100) == found
        )
    order = {c.key: rank for rank, c in enumerate(index.ranked)}
    exact = sorted((k for k in keys if k.startswith(prefix)), key=order.__getitem__)
    typos = sorted(
        (k for k in keys if k not in exact and len(prefix.strip()) >= 4
         and any(osa_distance(prefix, k[:end]) <= 1 for end in range(len(k) + 1))),
        key=order.__getitem__,
    )  # fmt: skip
    assert [(s.text, s.typo) for s in found] == [(k, False) for k in exact] + [
        (k, True) for k in typos
    ]
