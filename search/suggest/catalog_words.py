"""The catalog's own words as completions: brands, category levels and title word n-grams.

- a brand, as written, counts the products of that brand;
- each level of a category path (``Audio`` and ``Headphones`` of ``Audio > Headphones``) counts
  the products under it;
- a title's runs of 1 to ``MAX_NGRAM_WORDS`` words, starting at any word, count the products
  whose title holds them, and are kept from ``min_products`` products on, so one product's odd
  wording is not suggested. A run does not start with a bare number (``12 pack``).
- Words are split at whitespace; a run of CJK characters is a word of its own where it meets
  Latin letters or digits (``5G智能手机``: ``5G``, ``智能手机``).
- Chinese and Japanese write no spaces, so a title's Han and kana runs also give their
  character n-grams of ``CJK_MIN_CHARS`` to ``CJK_MAX_CHARS`` characters (``咖啡``, ``耳机``,
  ``降噪耳机`` of ``无线降噪耳机``), kept from ``min_products`` products on when maximal: not
  part of a one character longer n-gram held by as many products (``降噪耳`` goes when every
  title holding it holds ``降噪耳机``). Counted over the folded text (``fold_script``), shown as
  first written. Korean writes spaces and needs none.
- No title n-gram or popular query is a stop word, starts or ends with one
  (``search.suggest.stops``). Brands and category levels are names a shop chose and are kept as
  written: the English list (1,333 words) holds ``home``, which ``Home & Kitchen`` keeps.

Whole titles are not completions: they are long, unique, and the product is one search away.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import tantivy

from catalog.locales import language_of
from catalog.product import category_levels
from search.suggest.stops import is_stop_word
from search.suggest.text import completion_key, fold_script

MAX_NGRAM_WORDS = 3
CJK_MIN_CHARS = 2
CJK_MAX_CHARS = 4
# Han and kana runs (Chinese, Japanese): cut into character n-grams. Hangul is not: Korean
# writes spaces between words.
_SCRIPT_SEGMENT = re.compile(
    r"(?P<han>[\u3005\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)|(?P<katakana>[\u30a0-\u30ff]+)"
)
# A run of CJK characters (Han, kana, hangul) is a word of its own where it meets Latin letters or
# digits: "5G智能手机" is "5G" and "智能手机".
_CJK_RUN = re.compile(r"([\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uff66-\uff9f]+)")
_PUNCTUATION = "\"'()[]{}<>,.;:!?|/\\«»“”‘’„、，。：；！？（）【】「」『』·"


@dataclass(frozen=True)
class CatalogRecord:
    """What suggestions read of a product."""

    locale: str
    title: str
    brand: str = ""
    category: str = ""


@dataclass
class CatalogWords:
    """Per language code, per key: products counted and the spelling seen first."""

    products: dict[str, Counter[str]]
    spelling: dict[str, dict[str, str]]


def count_catalog_words(records: Iterable[CatalogRecord], *, min_products: int) -> CatalogWords:
    """Count brands, category levels and title n-grams per language (see the module docstring);
    n-grams below ``min_products`` are dropped, brands and categories never."""
    ngrams: dict[str, Counter[str]] = {}
    chars: dict[str, Counter[str]] = {}
    named: dict[str, Counter[str]] = {}
    spelling: dict[str, dict[str, str]] = {}
    for record in records:
        try:
            language = language_of(record.locale).code
        except KeyError:
            continue
        spelled = spelling.setdefault(language, {})
        names = {record.brand.strip(), *category_levels(record.category)}
        keys = set()
        for name in names:
            key = completion_key(name)
            if key:
                keys.add(key)
                spelled.setdefault(key, name.strip())
        named.setdefault(language, Counter()).update(keys)
        grams = set()
        for key, text in _title_ngrams(record.title, language):
            grams.add(key)
            spelled.setdefault(key, text)
        ngrams.setdefault(language, Counter()).update(grams)
        grams = set()
        for key, text in _cjk_ngrams(record.title):
            grams.add(key)
            spelled.setdefault(key, text)
        if grams:
            chars.setdefault(language, Counter()).update(grams)
    products: dict[str, Counter[str]] = {}
    for language in set(ngrams) | set(named):
        counts = Counter({k: n for k, n in ngrams.get(language, Counter()).items()
                          if n >= min_products})  # fmt: skip
        for key, n in _maximal(chars.get(language, Counter()), min_products).items():
            counts[key] = max(counts[key], n)
        for key, n in named.get(language, Counter()).items():
            counts[key] = max(counts[key], n)
        products[language] = counts
    return CatalogWords(products, spelling)


def _title_ngrams(title: str, language: str) -> Iterator[tuple[str, str]]:
    """``(key, text)`` of each run of 1 to ``MAX_NGRAM_WORDS`` words of ``title`` that neither
    starts nor ends with a stop word."""
    words: list[str] = []
    glue: list[str] = []  # what joins each word to the one before: a space, or nothing
    for segment in unicodedata.normalize("NFKC", title).split():
        kept = 0
        for piece in _CJK_RUN.split(segment.strip(_PUNCTUATION)):
            piece = piece.strip(_PUNCTUATION)
            if piece.isalnum() or any(c.isalnum() for c in piece):
                glue.append("" if kept else " ")
                words.append(piece)
                kept += 1
    keys = [fold_script(w.casefold()) for w in words]  # completion_key: NFKC, no spaces already
    stops = [is_stop_word(w, language) for w in words]
    for start in range(len(words)):
        first = keys[start]
        if (
            stops[start]
            or not any(c.isalpha() for c in first)
            or len(first) < 2
            and first.isascii()
        ):
            continue  # a stop word, a bare number ("12") or a lone Latin letter
        key, text = keys[start], words[start]
        for end in range(start + 1, min(start + MAX_NGRAM_WORDS, len(words)) + 1):
            if end > start + 1:
                key += glue[end - 1] + keys[end - 1]
                text += glue[end - 1] + words[end - 1]
            if not stops[end - 1]:
                yield key, text


def _cjk_ngrams(title: str) -> Iterator[tuple[str, str]]:
    """``(key, text)`` of the CJK completions of ``title`` to count: in each Han and kana run,
    every Han segment's character n-grams of ``CJK_MIN_CHARS`` to ``CJK_MAX_CHARS`` + 1
    characters (the longest only to tell maximality, ``_maximal``) and each katakana segment of
    2+ characters whole (a katakana word is a loanword: ``イヤホン``, not ``ヤホ``); hiragana
    (particles and inflections: ``から``, ``の``) gives none."""
    for match in _SCRIPT_SEGMENT.finditer(unicodedata.normalize("NFKC", title)):
        han, katakana = match.group("han"), match.group("katakana")
        if katakana and len(katakana) >= CJK_MIN_CHARS:
            yield fold_script(katakana), katakana
        if han and len(han) >= CJK_MIN_CHARS:
            folded = fold_script(han)
            shown = han if len(folded) == len(han) else folded
            for size in range(CJK_MIN_CHARS, min(CJK_MAX_CHARS + 1, len(folded)) + 1):
                for at in range(len(folded) - size + 1):
                    yield folded[at : at + size], shown[at : at + size]


def _maximal(counts: Counter[str], min_products: int) -> dict[str, int]:
    """The n-grams of ``CJK_MIN_CHARS`` to ``CJK_MAX_CHARS`` characters held by ``min_products``
    products or more that no one character longer n-gram held by as many products contains."""
    covered: set[str] = set()
    for gram, n in counts.items():
        if len(gram) > CJK_MIN_CHARS and n >= min_products:
            for part in (gram[1:], gram[:-1]):
                if counts.get(part) == n:
                    covered.add(part)
    return {
        gram: n for gram, n in counts.items()
        if n >= min_products and len(gram) <= CJK_MAX_CHARS and gram not in covered
    }  # fmt: skip


def indexed_records(index_dir: Path) -> Iterator[CatalogRecord]:
    """Every product of the embedded tantivy index at ``index_dir``, read through a reader of
    its own (the server's writer is untouched); nothing when there is no index there."""
    if not (index_dir / "meta.json").exists():
        return
    searcher = tantivy.Index.open(str(index_dir)).searcher()
    if not searcher.num_docs:
        return
    hits = searcher.search(tantivy.Query.all_query(), limit=searcher.num_docs, count=False).hits
    for _score, address in hits:
        source = json.loads(searcher.doc(address)["source"][0])
        yield CatalogRecord(
            locale=source["locale"],
            title=source["title"],
            brand=source.get("brand") or "",
            category=source.get("category") or "",
        )
