"""The learned ranker's features: one row per (query, candidate), computed once per search in
the rank stage, by the same code for training and serving.

Every feature comes from what both backends hand back above the Recall seam (the fused
candidates' products, their BM25 scores and cosines, their ranks) and from the analysed query
(``QueryPlan``), never from an engine's internals, so tantivy and Elasticsearch give the same
rows. A value that does not apply is NaN (LightGBM routes missing values natively): the cosine of
a product the dense leg did not find, the cross-encoder score where none was computed, number
agreement for a query without a number.

Product-side work (analysing the title, brand, category and text in the product's language,
finding its numbers and units) is done once per product version (id and content hash) and
cached; the per-search work is set intersections and numpy over at most a few hundred rows.
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from catalog.analysis import analyze, normalize_text, query_languages, stop_terms
from catalog.locales import language_of
from catalog.product import Product
from search.query.languages import reported_language
from search.recall.fusion import FusedHit
from search.recall.lexical import Correction, query_words
from search.recall.plan import QueryPlan

# Bump when a feature's meaning changes: a model trained on other features is refused.
FEATURE_VERSION = 2

FEATURES: tuple[str, ...] = (
    "bm25",  # the lexical leg's BM25 score (0: not found by it)
    "bm25_ratio",  # BM25 / the query's best BM25 (NaN: not found by the lexical leg)
    "bm25_rank",  # 1-based rank in the lexical leg (NaN: not found)
    "cosine",  # the dense leg's cosine (NaN: not found by it)
    "cosine_gap",  # the query's best cosine minus this one (NaN: not found)
    "dense_rank",  # 1-based rank in the dense leg (NaN: not found)
    "rrf",  # the fused (weighted RRF) score
    "rrf_rank",  # 1-based rank in the fused order
    "legs",  # how many legs found it (1 or 2)
    "title_coverage",  # share of the query's words in the title (or a localised title)
    "brand_coverage",  # ... in the brand
    "category_coverage",  # ... in the category path
    "text_coverage",  # ... in the bullets and description
    "coverage",  # ... anywhere in the product
    "weighted_coverage",  # coverage weighted by each word's rarity among the candidates
    "coverage_gap",  # the best weighted coverage among the candidates minus this one's
    "title_phrase",  # the whole query (normalised) occurs in the title
    "number_agreement",  # share of the query's numbers in the product (NaN: none asked)
    "unit_agreement",  # share of the query's number+unit pairs in the product (NaN: none)
    "same_language",  # 1: product in the query's language, 0: another, NaN: query's unknown
    "language_detected",  # 1: the query's language was detected, 0: stated, NaN: unknown
    "typo_match",  # 1: a corrected word matched the product (NaN: nothing was corrected)
    "synonym_match",  # 1: a synonym's words are in the product (NaN: no synonym applied)
    "query_words",  # how many content words the query has
    "title_terms",  # how many terms the title has
    "in_stock",  # 1 or 0
    "cross_encoder",  # the cross-encoder's raw score (NaN: not computed for it)
    "popularity_prior",  # the product's time-decayed popularity (NaN: no prior source)
    "ctr_prior",  # the product's click-through prior for similar queries (NaN: none)
)
INDEX = {name: i for i, name in enumerate(FEATURES)}

PRODUCT_CACHE_SIZE = 50_000  # product versions whose analysed fields are kept
MAX_WORDS = 62  # query words beyond this are ignored (the word masks are int64 bits)

_NUMBER = re.compile(r"(?<![\w.,])(\d+(?:[.,]\d+)?)\s*([^\W\d_]{1,5})?", re.UNICODE)
# Units written after a number; anything else after a number is not a unit ("3 pack").
UNITS: dict[str, str] = {
    **dict.fromkeys(["mm", "cm", "m", "km", "in", "inch", "zoll", "ft"], "length"),
    **dict.fromkeys(["ml", "cl", "l", "ltr", "oz", "gal"], "volume"),
    **dict.fromkeys(["mg", "g", "gr", "kg", "lb", "lbs"], "mass"),
    **dict.fromkeys(["w", "kw", "v", "mah", "ah", "hz", "khz", "mhz", "ghz"], "power"),
    **dict.fromkeys(["kb", "mb", "gb", "tb"], "storage"),
    **dict.fromkeys(["pcs", "pc", "pack", "stk", "x"], "count"),
}


@dataclass(frozen=True)
class ProductPrior:
    """What the event log knows of a product: its popularity and its click-through prior
    (NaN where the log knows nothing)."""

    popularity: float = math.nan
    ctr: float = math.nan


class PriorSource(Protocol):
    """Where popularity and CTR priors come from (the event log's aggregates; none by default:
    both features are NaN)."""

    def priors(self, query: str, product_ids: Sequence[str]) -> Mapping[str, ProductPrior]:
        """The priors of the products the source knows, by id; the others are left out."""
        ...


@dataclass
class RankTrace:
    """Filled by the rank stage when given to ``SearchService.search``: the candidates it
    computed features for, in fused order, and their features (training reads it)."""

    product_ids: list[str] = field(default_factory=list)
    features: np.ndarray | None = None


@dataclass(frozen=True)
class ProductTerms:
    """One product version's analysed fields (in its own language), numbers and units."""

    language: str
    title: frozenset[str]
    brand: frozenset[str]
    category: frozenset[str]
    text: frozenset[str]
    title_text: str  # normalised, words joined by one space
    title_terms: int
    numbers: frozenset[str]
    units: frozenset[tuple[str, str]]

    @property
    def every(self) -> frozenset[str]:
        """Every term of the product."""
        return self.title | self.brand | self.category | self.text


class _ProductTermsCache:
    """``ProductTerms`` by (id, content hash), least recently used dropped first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._terms: OrderedDict[tuple[str, str], ProductTerms] = OrderedDict()

    def get(self, product: Product) -> ProductTerms:
        key = (product.id, product.content_hash)
        found = self._terms.get(key)
        if found is not None:
            self._terms.move_to_end(key)
            return found
        terms = product_terms(product)
        self._terms[key] = terms
        if len(self._terms) > self.size:
            self._terms.popitem(last=False)
        return terms


PRODUCT_TERMS = _ProductTermsCache(PRODUCT_CACHE_SIZE)


def _numbers(text: str) -> tuple[frozenset[str], frozenset[tuple[str, str]]]:
    """The numbers of normalised ``text`` (decimal comma as a point, trailing zeros dropped)
    and its (number, unit) pairs."""
    numbers, units = set(), set()
    for match in _NUMBER.finditer(text):
        value = match.group(1).replace(",", ".")
        if "." in value:
            value = value.rstrip("0").rstrip(".")
        numbers.add(value)
        unit = (match.group(2) or "").lower()
        if unit in UNITS:
            units.add((value, unit))
    return frozenset(numbers), frozenset(units)


def product_terms(product: Product) -> ProductTerms:
    """``product``'s fields analysed in its own language, its numbers and units."""
    language = language_of(product.locale).code
    titles = " ".join([product.title, *product.localized_titles.values()])
    title = analyze(titles, language)
    text = " ".join([*product.bullets, product.description])
    numbers, units = _numbers(normalize_text(" ".join([titles, text])))
    return ProductTerms(
        language=language,
        title=frozenset(title),
        brand=frozenset(analyze(product.brand, language)),
        category=frozenset(analyze(product.category.replace(">", " "), language)),
        text=frozenset(analyze(text, language)),
        title_text=" ".join(normalize_text(product.title).split()),
        title_terms=len(analyze(product.title, language)),
        numbers=numbers,
        units=units,
    )


@dataclass(frozen=True)
class QueryTerms:
    """The analysed query: each content word's terms (in every language it is read as), which
    word each term stands for (a bit mask), the corrections' and synonyms' terms."""

    words: int
    masks: dict[str, int]  # term -> bit mask of the words it stands for
    typo_terms: frozenset[str]
    synonym_terms: frozenset[str]
    phrase: str
    numbers: frozenset[str]
    units: frozenset[tuple[str, str]]
    language: str | None
    detected: float


def query_terms_of(plan: QueryPlan, corrections: Sequence[Correction] = ()) -> QueryTerms:
    """What the features compare the products with, from ``plan`` and the lexical leg's
    ``corrections``."""
    if plan.analyze_as:
        languages: tuple[str, ...] = tuple(plan.analyze_as)
    elif plan.filters.locale:
        languages = (plan.filters.locale,)
    else:
        languages = query_languages(plan.text)
    stops = stop_terms(languages)
    fixed: dict[str, list[str]] = {}
    for correction in corrections:
        fixed.setdefault(normalize_text(correction.term), []).extend(correction.to)
    word_terms: list[set[str]] = []
    typo: set[str] = set()
    for word in query_words(plan.text):
        terms = {t for language in languages for t in analyze(word, language)}
        fix = {t for to in fixed.get(word, ()) for lang in languages for t in analyze(to, lang)}
        typo |= fix
        terms |= fix
        if terms and not terms <= stops:
            word_terms.append(terms)
    if not word_terms:  # a query of stop words only: every word counts
        word_terms = [
            terms
            for word in query_words(plan.text)
            if (terms := {t for language in languages for t in analyze(word, language)})
        ]
    masks: dict[str, int] = {}
    for i, terms in enumerate(word_terms[:MAX_WORDS]):
        for term in terms:
            masks[term] = masks.get(term, 0) | 1 << i
    synonyms = {
        term
        for use in (plan.lexical.synonyms if plan.lexical else ())
        for phrase in use.also
        for language in languages
        for term in analyze(phrase, language)
    }
    numbers, units = _numbers(normalize_text(plan.text))
    language = reported_language(plan.text, plan.analyze_as) or plan.filters.locale
    detected = math.nan if language is None else float(plan.detected)
    return QueryTerms(
        words=min(len(word_terms), MAX_WORDS),
        masks=masks,
        typo_terms=frozenset(typo),
        synonym_terms=frozenset(synonyms - set(masks)),
        phrase=" ".join(query_words(normalize_text(plan.text))),
        numbers=numbers,
        units=units,
        language=language_of(language).code if language else None,
        detected=detected,
    )


def _cover(masks: dict[str, int], terms: frozenset[str]) -> int:
    """The bit mask of the query words ``terms`` hold."""
    covered = 0
    for term in terms.intersection(masks):
        covered |= masks[term]
    return covered


def _popcount(values: np.ndarray) -> np.ndarray:
    return np.array([int(v).bit_count() for v in values], dtype=np.float32)


def candidate_features(
    plan: QueryPlan,
    candidates: Sequence[FusedHit],
    model_scores: Sequence[float | None] | None = None,
    *,
    corrections: Sequence[Correction] = (),
    priors: Mapping[str, ProductPrior] | None = None,
) -> np.ndarray:
    """The feature rows (``FEATURES``, float32, NaN where missing) of ``candidates`` (in fused
    order) for the query ``plan``: ``model_scores`` are the cross-encoder's (None: not scored),
    ``corrections`` the lexical leg's, ``priors`` the event log's by product id."""
    n = len(candidates)
    rows = np.full((n, len(FEATURES)), np.nan, dtype=np.float32)
    if not n:
        return rows
    query = query_terms_of(plan, corrections)
    products = [PRODUCT_TERMS.get(c.hit.product) for c in candidates]

    bm25 = np.array([c.hit.bm25_score for c in candidates], dtype=np.float32)
    bm25_rank = np.array([c.bm25_rank or np.nan for c in candidates], dtype=np.float32)
    cosine = np.array(
        [np.nan if c.hit.dense_score is None else c.hit.dense_score for c in candidates],
        dtype=np.float32,
    )
    dense_rank = np.array([c.dense_rank or np.nan for c in candidates], dtype=np.float32)
    lexical = ~np.isnan(bm25_rank)
    rows[:, INDEX["bm25"]] = bm25
    top_bm25 = bm25[lexical].max() if lexical.any() else 0.0
    if top_bm25 > 0:
        rows[lexical, INDEX["bm25_ratio"]] = bm25[lexical] / top_bm25
    rows[:, INDEX["bm25_rank"]] = bm25_rank
    rows[:, INDEX["cosine"]] = cosine
    if not np.isnan(cosine).all():
        rows[:, INDEX["cosine_gap"]] = np.nanmax(cosine) - cosine
    rows[:, INDEX["dense_rank"]] = dense_rank
    rows[:, INDEX["rrf"]] = [c.fused_score for c in candidates]
    rows[:, INDEX["rrf_rank"]] = np.arange(1, n + 1)
    rows[:, INDEX["legs"]] = lexical.astype(np.float32) + ~np.isnan(dense_rank)

    masks = query.masks
    fields = np.array(
        [
            [_cover(masks, p.title), _cover(masks, p.brand), _cover(masks, p.category),
             _cover(masks, p.text)]
            for p in products
        ],
        dtype=np.int64,
    )  # fmt: skip
    every = fields[:, 0] | fields[:, 1] | fields[:, 2] | fields[:, 3]
    if query.words:
        words = float(query.words)
        for column, name in enumerate(("title", "brand", "category", "text")):
            rows[:, INDEX[f"{name}_coverage"]] = _popcount(fields[:, column]) / words
        rows[:, INDEX["coverage"]] = _popcount(every) / words
        bits = (every[:, None] >> np.arange(query.words)) & 1  # (n, words)
        document_frequency = bits.sum(axis=0)
        weights = np.log((n + 1.0) / (document_frequency + 0.5))
        weights = np.maximum(weights, 0.0) + 1e-3
        weighted = bits @ weights / weights.sum()
        rows[:, INDEX["weighted_coverage"]] = weighted
        # Query-level: whether any candidate holds the query's words at all (when none does,
        # as across languages, the dense leg is what is left to trust).
        rows[:, INDEX["coverage_gap"]] = weighted.max() - weighted
    rows[:, INDEX["title_phrase"]] = [
        1.0 if query.phrase and query.phrase in p.title_text else 0.0 for p in products
    ]
    if query.numbers:
        rows[:, INDEX["number_agreement"]] = [
            len(query.numbers & p.numbers) / len(query.numbers) for p in products
        ]
    if query.units:
        rows[:, INDEX["unit_agreement"]] = [
            len(query.units & p.units) / len(query.units) for p in products
        ]
    if query.language is not None:
        rows[:, INDEX["same_language"]] = [p.language == query.language for p in products]
    rows[:, INDEX["language_detected"]] = query.detected
    if query.typo_terms:
        rows[:, INDEX["typo_match"]] = [
            bool(query.typo_terms.intersection(p.every)) for p in products
        ]
    if query.synonym_terms:
        rows[:, INDEX["synonym_match"]] = [
            bool(query.synonym_terms.intersection(p.every)) for p in products
        ]
    rows[:, INDEX["query_words"]] = query.words
    rows[:, INDEX["title_terms"]] = [p.title_terms for p in products]
    rows[:, INDEX["in_stock"]] = [c.hit.product.in_stock for c in candidates]
    if model_scores is not None:
        rows[:, INDEX["cross_encoder"]] = [
            np.nan if score is None else score for score in model_scores
        ]
    if priors:
        for i, c in enumerate(candidates):
            prior = priors.get(c.hit.product.id)
            if prior is not None:
                rows[i, INDEX["popularity_prior"]] = prior.popularity
                rows[i, INDEX["ctr_prior"]] = prior.ctr
    return rows


FeatureKey = tuple[object, ...]


def feature_key(
    plan: QueryPlan,
    candidates: Sequence[FusedHit],
    model_scores: Sequence[float | None] | None = None,
    *,
    corrections: Sequence[Correction] = (),
) -> FeatureKey:
    """Everything ``candidate_features`` reads (without priors), as one hashable value: equal
    keys give equal feature rows, so a ranker's scores for them can be kept
    (``LearnedRanker.score_once``). Each product counts by id and content hash, so a changed
    product (price, stock, text) is a new key."""
    return (
        plan.text,
        plan.analyze_as,
        plan.detected,
        plan.filters,
        plan.lexical.synonyms if plan.lexical else (),
        tuple(corrections),
        tuple(
            (
                c.hit.product.id,
                c.hit.product.content_hash,
                c.hit.bm25_score,
                c.hit.dense_score,
                c.bm25_rank,
                c.dense_rank,
                c.fused_score,
            )
            for c in candidates
        ),  # fmt: skip
        None if model_scores is None else tuple(model_scores),
    )
