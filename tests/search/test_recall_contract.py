"""Behaviour every Recall backend must show. Each backend only supplies the ``recall`` fixture."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from catalog.text import content_hash
from search.errors import InvalidQuery, RecallUnavailable
from search.recall import Recall, SearchFilters
from search.recall.embedded.backend import EmbeddedRecall
from search.settings import Settings
from tests.conftest import make_product


@pytest.fixture(params=["embedded", pytest.param("elasticsearch", marks=pytest.mark.elasticsearch)])
def recall(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Recall]:
    if request.param == "embedded":
        backend: Recall = EmbeddedRecall(tmp_path / "index")
        yield backend
        backend.close()
        return
    url = Settings().elasticsearch_url
    if not url:
        pytest.skip("needs a live Elasticsearch cluster: set SHELF_ELASTICSEARCH_URL")
    from search.recall.elastic.backend import ElasticsearchRecall

    # A throwaway alias per test, so tests never see each other's products.
    elastic = ElasticsearchRecall(url, alias=f"shelf-test-{uuid.uuid4().hex[:10]}")
    yield elastic
    # Wildcard deletes are refused by default (action.destructive_requires_name): name them.
    indices = list(elastic._client.indices.get(index=f"{elastic.alias}-*").body)
    if indices:
        elastic._client.indices.delete(index=",".join(indices))
    elastic._client.indices.delete_index_template(name=elastic.alias)
    elastic.close()


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


def test_brand_filter_matches_the_exact_brand_forgiving_case_and_spaces(recall: Recall) -> None:
    recall.index([
        make_product(id="acme", title="Coffee grinder", brand="Acme"),
        make_product(id="acme-co", title="Coffee filter", brand="Acme Co"),
        make_product(id="none", title="Coffee scale", brand=""),
    ])  # fmt: skip
    assert _ids(recall, "coffee", brand="ACME") == ["acme"]
    assert _ids(recall, "coffee", brand="  acme   co ") == ["acme-co"]
    assert _ids(recall, "coffee", brand="Acm") == []


def test_an_index_of_an_older_schema_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "old-index"
    EmbeddedRecall(path).close()
    (path / "shelf-index.json").write_text('{"schema_version": 1}')
    with pytest.raises(RecallUnavailable, match="schema version 1.*run `shelf ingest` again"):
        EmbeddedRecall(path)


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
    with pytest.raises(InvalidQuery, match=r"unknown locale 'xx'.*language: zh \(Chinese\), ja"):
        SearchFilters(locale="xx")
    with pytest.raises(InvalidQuery, match=r"cannot analyse Swedish \(sv\)\. Supported languages"):
        SearchFilters(locale="sv-SE")
    assert SearchFilters(locale="DE").locale == "de"
    assert SearchFilters(locale="de_de").locale == "de-DE"
    assert SearchFilters(locale="zh_hant_tw").locale == "zh-Hant-TW"


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
    assert _ids(recall, "xylofon", locale=asked) == ["p"]


def test_content_hashes_answer_for_stored_ids_only(recall: Recall) -> None:
    product = make_product(id="a")
    recall.index([product])
    assert recall.content_hashes(["a", "missing"]) == {"a": content_hash(product)}
    assert recall.content_hashes([]) == {}


def test_a_full_load_is_invisible_until_committed(recall: Recall) -> None:
    recall.index([make_product(id="old", title="Red kettle")])
    recall.begin_full()
    recall.index([make_product(id="new", title="Blue kettle")])
    assert _ids(recall, "kettle") == ["old"]
    assert set(recall.content_hashes(["old", "new"])) == {"old"}
    recall.commit_full()
    assert _ids(recall, "kettle") == ["new"]
    assert recall.count() == 1


def test_an_aborted_full_load_leaves_the_live_catalog_as_it_was(recall: Recall) -> None:
    recall.index([make_product(id="old", title="Red kettle")])
    recall.begin_full()
    recall.index([make_product(id="new", title="Blue kettle")])
    recall.abort_full()
    assert _ids(recall, "kettle") == ["old"]
    recall.index([make_product(id="later", title="Green kettle")])
    assert sorted(_ids(recall, "kettle")) == ["later", "old"]


@pytest.mark.parametrize(
    ("deleted", "loaded"),
    [([], ["p18"]), (["p12"], ["p18"]), (["p12", "p20", "p01"], ["p18"]),
     (["a", "b", "c"], ["z", "y"]), (["p18", "x"], ["p18", "p19"])],
)  # fmt: skip
def test_a_full_load_after_deletes_keeps_every_product_it_indexed(
    tmp_path: Path, deleted: list[str], loaded: list[str]
) -> None:
    # tantivy's delete_all_documents lost the new documents of some such loads (the upserts'
    # own deletes hit them), not always: repeated on fresh indexes, so the fault shows.
    for attempt in range(6):
        recall = EmbeddedRecall(tmp_path / f"index-{attempt}")
        recall.delete(deleted)
        recall.begin_full()
        recall.index([make_product(id=product_id) for product_id in loaded])
        recall.commit_full()
        assert recall.count() == len(loaded), attempt
        recall.close()
