"""Per-language text analysis for the embedded index, as pure functions.

Index and query go through the same function, so what a shopper types is cut into exactly the
terms the products were indexed under:

- CJK (Chinese, Japanese, Korean): overlapping character bigrams, as Lucene's CJK analyzer does,
  since none of these languages marks word boundaries reliably; Traditional Han characters first
  folded to Simplified, and the kana's prolonged sound mark variants to ``ー``
  (``catalog.script_folding``), so ``耳機`` meets ``耳机`` and ``ラ～メン`` meets ``ラーメン``.
- German: each word also yields the stems of the word-list words inside it
  (``catalog.decompound``), so ``Schreibtischstuhl`` meets ``Bürostuhl`` through ``stuhl``.
- Latin scripts: lowercase, the language's snowball stemmer, then ASCII folding, so "Kopfhörer"
  and "kopfhorer" meet and "cafetera eléctrica" matches "cafetera electrica".
- Cyrillic: lowercase, ё folded to е, the Russian stemmer.
- Arabic: diacritics and tatweel removed, alef/yeh/teh-marbuta forms unified, the Arabic stemmer.

Before any of that, the whole text is normalised (NFKC, then Unicode case folding: ``ẞ``/``ß`` ->
``ss``, final ``ς`` -> ``σ``, ``İ`` -> ``i̇``), so a decomposed ``e`` + U+0301 is one letter and no
letter is cut from its combining mark. Then the text is split on whitespace and each token goes
through ``catalog.word_delimiter`` (Lucene's word delimiter: parts, joined forms, the original), so
``T-Shirt``, ``tshirt`` and (in a query, whose adjacent words are also joined) ``t shirt`` share
the term ``tshirt``, and ``iPhone15`` meets ``iphone 15``.

Stop words ("for", "für", "для") are indexed like any word; at query time ``stop_terms`` names
them so recall can weigh them down (see ``search.recall.embedded.backend.STOP_WORD_WEIGHT``) rather
than
drop them: a product that matches a query only through "für" is still recalled, last.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from functools import cache, lru_cache

import Stemmer
from stop_words import safe_get_stop_words

from catalog.decompound import compound_parts, word_list
from catalog.locales import LANGUAGES, Language, language_of
from catalog.script_folding import fold_han, fold_kana
from catalog.word_delimiter import delimited_terms, joined_pairs, subwords

MAX_TOKEN_CHARS = 40  # longer "words" are noise (hashes, URLs) and bloat the term dictionary
WORD_CACHE_SIZE = 50_000

_CJK = (
    "\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\ua960-\ua97f\uac00-\ud7af\ud7b0-\ud7ff\uf900-\ufaff\U00020000-\U0002fa1f"
)
_CJK_RUN = re.compile(f"[{_CJK}]+")
_CJK_CHAR = re.compile(f"[{_CJK}]")
_CYRILLIC = re.compile("[\u0400-\u04ff]")
_ARABIC = re.compile("[\u0600-\u06ff\u0750-\u077f]")
_LATIN = re.compile("[A-Za-z\u00c0-\u024f]")

_ARABIC_DIACRITICS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_ARABIC_FORMS = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه"})
# Letters NFKD does not decompose into ASCII plus a combining mark.
_FOLD_EXTRA = str.maketrans(
    {"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i"}
)

LATIN_LANGUAGES: tuple[str, ...] = tuple(
    code for code, lang in LANGUAGES.items() if lang.script == "latin"
)


@cache
def _stemmer(name: str) -> Stemmer.Stemmer:
    return Stemmer.Stemmer(name)


def normalize_text(text: str) -> str:
    """Unicode NFKC (full-width forms to ASCII), case folding, Arabic letter forms unified."""
    text = unicodedata.normalize("NFKC", text).casefold()
    if text.isascii():
        return text
    # str.translate walks a non-ASCII string character by character through a dict: done only
    # on text that holds Arabic letters (most catalog text holds none).
    if _ARABIC.search(text):
        text = _ARABIC_DIACRITICS.sub("", text).translate(_ARABIC_FORMS)
    return text.replace("ё", "е")


def ascii_fold(word: str) -> str:
    """Strip accents from Latin letters: "eléctrica" -> "electrica", "straße" -> "strasse"."""
    if word.isascii():
        return word
    decomposed = unicodedata.normalize("NFKD", word.translate(_FOLD_EXTRA))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def cjk_bigrams(run: str) -> Iterator[str]:
    """Overlapping bigrams of a run of CJK characters; a lone character stands for itself."""
    if len(run) == 1:
        yield run
        return
    for i in range(len(run) - 1):
        yield run[i : i + 2]


def _word_terms(word: str, language: Language) -> Iterator[str]:
    """Terms of one normalised word, which may mix CJK runs with other letters or digits; Han
    characters folded to Simplified (``fold_han``); then, in a language with a compound word
    list, the stems of the word's parts (``catalog.decompound``)."""
    position = 0
    for match in _CJK_RUN.finditer(word):
        if match.start() > position:
            yield _stem(word[position : match.start()], language)
        yield from cjk_bigrams(fold_han(match.group()))
        position = match.end()
    if position < len(word):
        yield _stem(word[position:], language)
    words = word_list(language.code)
    if words:
        for part in compound_parts(word, words):
            yield _stem(part, language)


def _stem(word: str, language: Language) -> str:
    if _ARABIC.search(word):
        return _stemmer("arabic").stemWord(word)
    if _CYRILLIC.search(word):
        return _stemmer("russian").stemWord(word)
    if _LATIN.search(word):
        # Latin words inside CJK, Arabic or Russian text are mostly English (brands, units).
        name = language.stemmer if language.script == "latin" else "english"
        return ascii_fold(_stemmer(name or "english").stemWord(word))
    return word


# Words repeat across a catalog (Zipf), so each (word, language) is analysed once; the cache is
# bounded, so memory stays flat however large the catalog.
def _has_cjk(text: str) -> bool:
    return _CJK_CHAR.search(text) is not None


def _kept(terms: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(term for term in terms if term and len(term) <= MAX_TOKEN_CHARS))


@lru_cache(maxsize=WORD_CACHE_SIZE)
def _cached_terms(token: str, language_code: str) -> tuple[str, ...]:
    language = LANGUAGES[language_code]
    # Prolonged sound marks typed as dashes or tildes, before the word delimiter splits there
    # (per token, so cached: the patterns never reach across whitespace).
    return _kept(
        term
        for variant in delimited_terms(fold_kana(token), _has_cjk)
        for term in _word_terms(variant, language)
    )


def analyze(text: str, language: str) -> list[str]:
    """The index terms of ``text`` written in ``language`` (a locale or language code): per
    whitespace token, its distinct terms (parts, joined forms, original), in text order."""
    if not text:
        return []
    code = language_of(language).code
    terms: list[str] = []
    for token in normalize_text(text).split():
        terms.extend(_cached_terms(token, code))
    return terms


def analyze_query(text: str, language: str) -> list[str]:
    """The terms of a query: ``analyze``'s, plus each two adjacent words joined and analysed
    (``t shirt`` -> ``tshirt``), so a query spelled apart finds a title spelled together."""
    terms = analyze(text, language)
    if not terms:
        return terms
    language_rules = LANGUAGES[language_of(language).code]
    words = [part for token in normalize_text(text).split() for part in subwords(token)]
    pairs = _kept(
        term for pair in joined_pairs(words, _has_cjk) for term in _word_terms(pair, language_rules)
    )
    return terms + [term for term in pairs if term not in terms]


def query_languages(text: str) -> tuple[str, ...]:
    """Languages a query with no locale may be written in, judged by its scripts.

    CJK languages share one analysis (bigrams), so "zh" stands for all three; a Latin-only query
    is analysed as every Latin-script language and the terms unioned.
    """
    if _CJK_CHAR.search(text):
        return ("zh",)
    if _ARABIC.search(text):
        return ("ar",)
    if _CYRILLIC.search(text):
        return ("ru",)
    return LATIN_LANGUAGES


def query_terms(text: str, languages: Iterable[str]) -> list[str]:
    """Distinct terms of a query analysed (``analyze_query``) as each of ``languages``, in
    first-seen order."""
    seen: dict[str, None] = {}
    for language in languages:
        for term in analyze_query(text, language):
            seen.setdefault(term, None)
    return list(seen)


@cache
def _stop_terms(language: str) -> frozenset[str]:
    lang = language_of(language)
    if lang.script == "cjk":
        # CJK text is cut into bigrams, which stop-word lists of whole words do not describe.
        return frozenset()
    words = safe_get_stop_words(lang.code)
    return frozenset(term for word in words for term in analyze(word, lang.code))


def stop_terms(languages: Iterable[str]) -> frozenset[str]:
    """The analysed stop words of ``languages`` (locales or language codes), as index terms."""
    return _stop_terms_of(tuple(languages))


@lru_cache(maxsize=256)
def _stop_terms_of(languages: tuple[str, ...]) -> frozenset[str]:
    # Every search asks for the union of its languages' lists (2,000 terms for the Latin ones):
    # built once per set of languages, not per query.
    terms: frozenset[str] = frozenset()
    for language in languages:
        terms |= _stop_terms(language_of(language).code)
    return terms
