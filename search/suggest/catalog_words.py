"""The catalog's own words as completions: brands, category levels and title word n-grams.

- a brand, as written, counts the products of that brand;
- each level of a category path (``Audio`` and ``Headphones`` of ``Audio > Headphones``) counts
  the products under it;
- a title's runs of 1 to ``MAX_NGRAM_WORDS`` words, starting at any word, count the products
  whose title holds them, and are kept from ``min_products`` products on, so one product's odd
  wording is not suggested. A run neither starts nor ends with a stop word of the language
  (``for kids``, ``cable with``), nor starts with a bare number (``12 pack``).
- Words are split at whitespace: a CJK title contributes its space-separated segments
  (``无线降噪耳机``), a run of CJK characters cut from the Latin letters and digits beside it
  (``5G智能手机``: ``5G``, ``智能手机``), matched by their leading characters (no segmenter).

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

from catalog.analysis import stop_terms
from catalog.locales import language_of
from catalog.product import category_levels
from search.suggest.text import completion_key

MAX_NGRAM_WORDS = 3
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
    named: dict[str, Counter[str]] = {}
    spelling: dict[str, dict[str, str]] = {}
    for record in records:
        try:
            language = language_of(record.locale).code
        except KeyError:
            continue
        spelled = spelling.setdefault(language, {})
        names = {record.brand.strip()} | set(category_levels(record.category))
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
    products: dict[str, Counter[str]] = {}
    for language in set(ngrams) | set(named):
        counts = Counter({k: n for k, n in ngrams.get(language, Counter()).items()
                          if n >= min_products})  # fmt: skip
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
    keys = [w.casefold() for w in words]  # completion_key: NFKC and no whitespace already
    stops = stop_terms((language,))
    for start in range(len(words)):
        first = keys[start]
        if (
            first in stops
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
            if keys[end - 1] not in stops:
                yield key, text


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
