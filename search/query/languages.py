"""The languages of a query, decided in one place: how BM25 analyses it, which one the answer
reports, and which ones the merchandising rules of one language may fire for.

Analysis is generous (a short or unsure query is analysed as every plausible language the
catalog holds, so one guess never hides products); knowing is strict (a rule of one language
fires only when the shopper or the text says so). Neither ever decides which products are
eligible: that is the filters' job.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from catalog.analysis import query_languages
from catalog.language import guess_languages
from catalog.locales import language_of

# Detection decides the BM25 analysis only for a query this long (words, or CJK characters), and
# then only when sure (catalog.language.guess_languages); shorter or less sure queries are
# analysed as every plausible language the catalog holds, so one guess never hides products.
DETECT_MIN_WORDS = 3
DETECT_MIN_CJK_CHARS = 4


def script_languages(text: str) -> tuple[str, ...]:
    """The languages a query's script allows (CJK analysis is shared, so "zh" stands for all
    three in ``query_languages``)."""
    languages = query_languages(text)
    return ("zh", "ja", "ko") if languages == ("zh",) else languages


def long_enough_to_detect(text: str) -> bool:
    """Whether detection may decide ``text``'s language: enough words or CJK characters."""
    cjk = sum(1 for ch in text if "\u3040" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af")
    return len(text.split()) >= DETECT_MIN_WORDS or cjk >= DETECT_MIN_CJK_CHARS


def analysis_languages(
    text: str, stated: str | None, filter_locale: str | None, held: Collection[str]
) -> tuple[tuple[str, ...] | None, bool]:
    """How BM25 analyses the normalised query ``text``; never which products are eligible.

    The ``stated`` language code; else the locale filter's (``None``: the backend applies
    ``filter_locale``); else, among the languages of the query's script that the catalog holds
    (``held``): the one detection is sure of (a query long enough), each plausible one when it is
    unsure, all of them for a short query. ``None`` when the catalog holds none of them (every
    language of the script). The flag is True when detected and sure."""
    if stated:
        return (stated,), False
    if filter_locale:
        return None, False
    candidates = tuple(code for code in script_languages(text) if code in held)
    if not candidates:
        return None, False
    if not long_enough_to_detect(text):
        return candidates, False
    guess = guess_languages(text, candidates)
    if guess is None:
        return candidates, False
    return guess.languages, guess.sure


def reported_language(text: str, analyze_as: Sequence[str] | None) -> str | None:
    """The one language the query was analysed as, if there was one: stated, detected, or the
    only language of its script (Arabic)."""
    if analyze_as:
        return analyze_as[0] if len(analyze_as) == 1 else None
    languages = script_languages(text)
    return languages[0] if len(languages) == 1 else None


def synonym_languages(
    text: str, analyze_as: Sequence[str] | None, filter_locale: str | None
) -> tuple[str, ...]:
    """The languages whose synonym rules apply: those the query is analysed as, else the locale
    filter's, else its script's."""
    if analyze_as:
        return tuple(analyze_as)
    if filter_locale:
        return (language_of(filter_locale).code,)
    return script_languages(text)


def known_languages(
    text: str,
    *,
    stated: bool,
    analyze_as: Sequence[str] | None,
    detected: bool,
    filter_language: str | None,
) -> frozenset[str]:
    """The language codes ``text`` (the normalised query) is known to be in, for the
    merchandising rules of one language (``Condition.language``).

    ``stated``: the request named the query's language (then ``analyze_as`` holds it);
    ``analyze_as`` and ``detected`` as ``analysis_languages`` gives them; ``filter_language``:
    that of the ``product_locale`` filter. Each of these adds its language; so does, when none
    is stated, the only language Shelf analyses in the query's script (Arabic, Cyrillic).
    Several plausible languages, or every candidate of a short query, add none: a campaign rule
    must not fire for the shoppers of another language who type the same word."""
    known: set[str] = set()
    if (stated or detected) and analyze_as and len(analyze_as) == 1:
        known.add(analyze_as[0])
    if filter_language is not None:
        known.add(filter_language)
    script = () if stated else query_languages(text)
    if len(script) == 1 and language_of(script[0]).script != "cjk":  # CJK: zh, ja or ko
        known.add(script[0])
    return frozenset(known)
