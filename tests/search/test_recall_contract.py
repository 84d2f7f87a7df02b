"""Behaviour every Recall backend must show. Each backend only supplies the ``recall`` fixture."""

from __future__ import annotations

from pathlib import Path

import pytest

from search.errors import InvalidQuery
from search.recall import Recall, SearchFilters
from search.recall.embedded import EmbeddedRecall
from tests.conftest import make_product


@pytest.fixture(params=["embedded"])
def recall(request: pytest.FixtureRequest, tmp_path: Path) -> Recall:
    if request.param == "embedded":
        return EmbeddedRecall(tmp_path / "index")
    raise AssertionError(request.param)


def _ids(recall: Recall, query: str, **filters: object) -> list[str]:
    hits = recall.search(query, limit=20, filters=SearchFilters(**filters))  # type: ignore[arg-type]
    return [h.product.id for h in hits]


def test_indexed_products_are_found_by_title_words(recall: Recall) -> None:
    recall.index([make_product(id="a", title="Insulated water bottle"),
                  make_product(id="b", title="Yoga mat", description="Non-slip")])  # fmt: skip
    assert _ids(recall, "bottle") == ["a"]
    assert recall.count() == 2


def test_reindexing_an_id_replaces_the_product(recall: Recall) -> None:
    recall.index([make_product(id="a", title="Red kettle")])
    recall.index([make_product(id="a", title="Blue teapot")])
    assert recall.count() == 1
    assert _ids(recall, "kettle") == []
    assert _ids(recall, "teapot") == ["a"]


def test_deleted_products_are_not_recalled(recall: Recall) -> None:
    recall.index([make_product(id="a", title="Red kettle"), make_product(id="b", title="Kettle")])
    recall.delete(["a"])
    assert _ids(recall, "kettle") == ["b"]


def test_title_match_outranks_description_match(recall: Recall) -> None:
    recall.index([
        make_product(id="desc", title="Travel mug", description="Works like a thermos flask."),
        make_product(id="title", title="Thermos flask", description="Keeps tea hot."),
    ])  # fmt: skip
    assert _ids(recall, "thermos") == ["title", "desc"]


def test_hits_carry_the_whole_product_and_a_positive_score(recall: Recall) -> None:
    product = make_product(id="a", bullets=["BPA free"], localized_titles={"de-DE": "Flasche"})
    recall.index([product])
    [hit] = recall.search("bottle", limit=5)
    assert hit.product == product
    assert hit.bm25_score > 0


def test_localized_titles_are_searchable_in_their_language(recall: Recall) -> None:
    recall.index([make_product(id="a", localized_titles={"de-DE": "Trinkflasche aus Edelstahl"})])
    assert _ids(recall, "Trinkflaschen", locale="de") == []  # the product itself is en-US
    assert _ids(recall, "Trinkflaschen") == ["a"]


def test_filters_restrict_by_locale_category_price_and_stock(recall: Recall) -> None:
    recall.index([
        make_product(id="en", title="Coffee grinder", category="Kitchen > Coffee", price=40),
        make_product(id="cheap", title="Coffee filter", category="Kitchen > Coffee", price=3),
        make_product(id="gone", title="Coffee scale", category="Kitchen > Scales", price=25,
                     in_stock=False),
        make_product(id="de", locale="de-DE", title="Coffee Mühle", category="Küche", price=45),
    ])  # fmt: skip
    assert sorted(_ids(recall, "coffee", locale="de-DE")) == ["de"]
    assert sorted(_ids(recall, "coffee", locale="en")) == ["cheap", "en", "gone"]
    assert sorted(_ids(recall, "coffee", category="Kitchen")) == ["cheap", "en", "gone"]
    assert sorted(_ids(recall, "coffee", category="Kitchen > Coffee")) == ["cheap", "en"]
    assert sorted(_ids(recall, "coffee", min_price=10, max_price=42)) == ["en", "gone"]
    assert sorted(_ids(recall, "coffee", in_stock=True)) == ["cheap", "de", "en"]


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
        ids = _ids(recall, query)
    except InvalidQuery:
        ids = []
    assert "b" not in ids


def test_query_without_searchable_words_is_refused(recall: Recall) -> None:
    with pytest.raises(InvalidQuery, match="no searchable words"):
        recall.search("?!", limit=5)


def test_bad_filters_are_refused_with_the_reason() -> None:
    with pytest.raises(InvalidQuery, match="min_price 10.0 is above max_price 5.0"):
        SearchFilters(min_price=10.0, max_price=5.0)
    with pytest.raises(InvalidQuery, match="unknown locale 'xx-XX'"):
        SearchFilters(locale="xx-XX")
    with pytest.raises(InvalidQuery, match="unknown locale 'xx'.*or a bare language: zh, ja"):
        SearchFilters(locale="xx")
    assert SearchFilters(locale="DE").locale == "de"
    assert SearchFilters(locale="de_de").locale == "de-DE"
