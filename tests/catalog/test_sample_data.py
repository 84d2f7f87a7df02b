"""The shipped sample catalog and judged queries are complete and consistent."""

from __future__ import annotations

from collections import Counter, defaultdict

from catalog.ingest import Reject, validate
from catalog.product import Product
from catalog.readers import read_jsonl
from catalog.samples import SAMPLE_CATALOG, sample_judgments, sample_queries

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
