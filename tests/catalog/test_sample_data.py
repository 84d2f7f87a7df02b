"""The shipped sample catalog and judged queries are complete and consistent."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from catalog.ingest import Reject, validate
from catalog.locales import language_of
from catalog.product import Product
from catalog.readers import read_jsonl
from catalog.samples import DATA_DIR, SAMPLE_CATALOG, sample_judgments, sample_queries
from search.evaluation.judgments import read_judgments, read_queries
from search.recall import SearchFilters
from search.recall.embedded.backend import EmbeddedRecall

REQUIRED_LANGUAGES = {"zh", "ja", "ko", "ar", "ru", "es", "de", "en"}


def test_every_sample_product_is_valid() -> None:
    rejects = [r for r in validate(read_jsonl(SAMPLE_CATALOG)) if isinstance(r, Reject)]
    assert rejects == []


def test_catalog_covers_600_products_in_eight_languages(sample_products: list[Product]) -> None:
    assert len(sample_products) >= 600
    assert len({p.id for p in sample_products}) == len(sample_products)
    per_language = Counter(p.locale.split("-")[0] for p in sample_products)
    assert set(per_language) >= REQUIRED_LANGUAGES
    assert min(per_language[lang] for lang in REQUIRED_LANGUAGES) >= 50


def test_judgments_refer_to_known_queries_and_products(sample_products: list[Product]) -> None:
    product_ids = {p.id for p in sample_products}
    queries = {q["query_id"]: q for q in sample_queries()}
    judgments = sample_judgments()
    assert {j["query_id"] for j in judgments} == set(queries)
    assert {j["product_id"] for j in judgments} <= product_ids
    assert all(j["grade"] in (0, 1, 2, 3) for j in judgments)
    assert {q["locale"].split("-")[0] for q in queries.values()} >= REQUIRED_LANGUAGES


def test_every_query_has_an_exact_match() -> None:
    best: dict[str, int] = defaultdict(int)
    for j in sample_judgments():
        best[j["query_id"]] = max(best[j["query_id"]], j["grade"])
    assert set(best.values()) == {3}


def test_generalisation_keyword_trap_is_judged_against_the_keyword(
    sample_products: list[Product],
) -> None:
    """The deep-learning-frameworks book shares the query's words; the regularisation book helps."""
    titles = {p.id: p.title for p in sample_products}
    query = next(q for q in sample_queries() if "泛化" in q["text"])
    grades = {
        titles[j["product_id"]]: j["grade"]
        for j in sample_judgments()
        if j["query_id"] == query["query_id"]
    }
    regularisation = [g for t, g in grades.items() if "正则化" in t]
    frameworks = [g for t, g in grades.items() if "深度学习框架对比" in t]
    assert regularisation == [3]
    assert frameworks and max(frameworks) <= 1


# --- The cross-lingual judged set: every relevant product is written in another language. ---

XLING_QUERIES = DATA_DIR / "sample_queries_xling.jsonl"
XLING_JUDGMENTS = DATA_DIR / "sample_judgments_xling.jsonl"
TRAP_NOTE = "keyword trap:"


def _records(path: Path) -> list[dict[str, Any]]:
    return [r.data for r in read_jsonl(path) if r.data is not None]


def _xling_queries() -> list[dict[str, Any]]:
    return _records(XLING_QUERIES)


def _xling_judgments() -> list[dict[str, Any]]:
    return _records(XLING_JUDGMENTS)


def cross_lingual_faults(
    queries: list[dict[str, Any]], judgments: list[dict[str, Any]], products: dict[str, Product]
) -> list[str]:
    """Every way a judged set breaks the cross-lingual property, one line per fault.

    The property: query ids are unique; every judgment names a known query and product, once;
    every query has a relevant product (grade >= 1); and no relevant product is written in the
    query's language, neither as its own text nor as one of its localized titles.
    """
    faults = [
        f"{qid}: query id used {n} times"
        for qid, n in Counter(q["query_id"] for q in queries).items()
        if n > 1
    ]
    language = {q["query_id"]: language_of(q["locale"]).code for q in queries}
    pairs = Counter((j["query_id"], j["product_id"]) for j in judgments)
    faults += [f"{qid} {pid}: judged {n} times" for (qid, pid), n in pairs.items() if n > 1]
    relevant: Counter[str] = Counter()
    for j in judgments:
        qid, pid = j["query_id"], j["product_id"]
        if qid not in language:
            faults.append(f"{qid} {pid}: judged, but {qid} is not a query")
            continue
        product = products.get(pid)
        if product is None:
            faults.append(f"{qid} {pid}: no such product in the catalog")
            continue
        if j["grade"] < 1:
            continue
        relevant[qid] += 1
        if language_of(product.locale).code == language[qid]:
            faults.append(f"{qid} {pid}: relevant product is in the query's own language")
        if any(language_of(loc).code == language[qid] for loc in product.localized_titles):
            faults.append(f"{qid} {pid}: relevant product has a title in the query's language")
    faults += [f"{qid}: no relevant product" for qid in language if relevant[qid] == 0]
    return faults


def test_cross_lingual_set_has_no_faults(sample_products: list[Product]) -> None:
    products = {p.id: p for p in sample_products}
    assert cross_lingual_faults(_xling_queries(), _xling_judgments(), products) == []


_VALID_QUERY = {"query_id": "xl-de-q01", "locale": "de-DE", "text": "Heißluftfritteuse"}
_VALID_JUDGMENT = {"query_id": "xl-de-q01", "product_id": "zh-cn-0013", "grade": 3}


@pytest.mark.parametrize(
    ("extra_queries", "judgments", "fault"),
    [
        ([_VALID_QUERY], [_VALID_JUDGMENT], "query id used 2 times"),
        ([], [_VALID_JUDGMENT, _VALID_JUDGMENT], "judged 2 times"),
        ([], [_VALID_JUDGMENT, {**_VALID_JUDGMENT, "query_id": "xl-de-q99"}], "is not a query"),
        ([], [_VALID_JUDGMENT, {**_VALID_JUDGMENT, "product_id": "zz-0001"}], "no such product"),
        ([], [{**_VALID_JUDGMENT, "grade": 0}], "no relevant product"),
        (
            [],
            [_VALID_JUDGMENT, {**_VALID_JUDGMENT, "product_id": "de-de-0011", "grade": 1}],
            "in the query's own language",
        ),
        (
            [],
            # An English product that also carries a German title (localized_titles["de-DE"]).
            [_VALID_JUDGMENT, {**_VALID_JUDGMENT, "product_id": "en-us-0009", "grade": 2}],
            "has a title in the query's language",
        ),
    ],
    ids=[
        "duplicate-query",
        "duplicate-judgment",
        "unknown-query",
        "unknown-product",
        "nothing-relevant",
        "same-language",
        "same-language-title",
    ],  # fmt: skip
)
def test_each_kind_of_cross_lingual_fault_is_caught(
    sample_products: list[Product],
    extra_queries: list[dict[str, Any]],
    judgments: list[dict[str, Any]],
    fault: str,
) -> None:
    products = {p.id: p for p in sample_products}
    assert cross_lingual_faults([_VALID_QUERY], [_VALID_JUDGMENT], products) == []
    faults = cross_lingual_faults([_VALID_QUERY, *extra_queries], judgments, products)
    assert len(faults) == 1 and fault in faults[0], faults


def test_cross_lingual_set_is_read_by_the_evaluation_readers() -> None:
    """The readers behind `shelf eval` take both files as they are (the `note` key included)."""
    queries = read_queries(XLING_QUERIES)
    qrels = read_judgments(XLING_JUDGMENTS)
    assert len(queries) == len(_xling_queries())
    assert {q.query_id for q in queries} == set(qrels)


@pytest.mark.parametrize("language", sorted(REQUIRED_LANGUAGES))
def test_each_language_has_8_to_10_cross_lingual_queries(language: str) -> None:
    count = sum(language_of(q["locale"]).code == language for q in _xling_queries())
    assert 8 <= count <= 10


def test_cross_lingual_query_ids_name_their_language_and_stay_apart_from_the_others() -> None:
    for query in _xling_queries():
        assert re.fullmatch(rf"xl-{language_of(query['locale']).code}-q\d\d", query["query_id"])
    same_language_ids = {q["query_id"] for q in sample_queries()}
    assert not same_language_ids & {q["query_id"] for q in _xling_queries()}


def test_every_cross_lingual_query_has_an_exact_match() -> None:
    best: dict[str, int] = defaultdict(int)
    for j in _xling_judgments():
        best[j["query_id"]] = max(best[j["query_id"]], j["grade"])
    assert {q["query_id"] for q in _xling_queries()} == {q for q, g in best.items() if g == 3}


def test_a_quarter_of_cross_lingual_queries_are_keyword_traps() -> None:
    queries = _xling_queries()
    traps = [q for q in queries if q.get("note", "").startswith(TRAP_NOTE)]
    assert len(traps) * 4 >= len(queries)
    assert all(q.get("note", TRAP_NOTE).startswith(TRAP_NOTE) for q in queries)


_TRAP_IDS = [q["query_id"] for q in _xling_queries() if "note" in q]


@pytest.mark.parametrize("query_id", _TRAP_IDS)
def test_keyword_trap_lures_same_language_bm25_to_a_product_judged_irrelevant(
    sample_index: EmbeddedRecall, query_id: str
) -> None:
    """BM25 in the query's language confidently returns the lure the note names (judged 0)."""
    query = next(q for q in _xling_queries() if q["query_id"] == query_id)
    language = language_of(query["locale"]).code
    lures = {
        j["product_id"]
        for j in _xling_judgments()
        if j["query_id"] == query_id and j["grade"] == 0 and j["product_id"].startswith(language)
    }
    hits = sample_index.search(query["text"], limit=5, filters=SearchFilters(locale=language))
    assert lures & {hit.product.id for hit in hits}
