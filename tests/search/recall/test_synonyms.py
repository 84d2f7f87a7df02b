"""Synonyms applied at query time on the embedded index (real tantivy): equivalent rules both
ways, one-way rules left to right only, per language, never ranking the typed term below its
synonym, counted in the match set."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from search.pipeline.config import SearchConfig
from search.pipeline.request import search_request
from search.pipeline.service import SearchService
from search.recall.embedded.backend import EmbeddedRecall
from search.synonyms.model import SynonymSet, parse_synonym_line
from tests.conftest import make_product

RULES = SynonymSet.of(
    [
        parse_synonym_line("sneakers, trainers"),  # every language
        parse_synonym_line("tv => television", "en"),
        parse_synonym_line("handy => smartphone", "de"),
        parse_synonym_line("running shoes, joggers", "en"),
    ]
)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRecall]:
    recall = EmbeddedRecall(tmp_path_factory.mktemp("synonyms"))
    plain = {"description": "", "bullets": [], "brand": "Acme", "category": "Shop"}
    recall.index(
        [
            make_product(id="sneaker", title="Canvas sneakers white", **plain),
            make_product(id="trainer", title="Leather trainers black", **plain),
            make_product(id="sneaker-de", title="Sneakers aus Leder", locale="de-DE", **plain),
            make_product(id="television", title="Television 55 inch", **plain),
            make_product(id="tv-stand", title="TV stand oak", **plain),
            make_product(id="smartphone", title="Smartphone 128 GB", locale="de-DE", **plain),
            make_product(id="smartphone-en", title="Smartphone 64 GB", **plain),
            make_product(id="handy", title="Handy Hülle", locale="de-DE", **plain),
            make_product(id="jogger", title="Joggers for men", **plain),
            make_product(id="running", title="Running shoes road", **plain),
        ]
    )
    yield recall
    recall.close()


def _ids(shop: EmbeddedRecall, query: str, lang: str | None = None, rules: SynonymSet = RULES):
    pipeline = SearchService(shop, None, config=SearchConfig(synonyms=lambda: rules))
    response = pipeline.search(search_request(query, k=20, rerank=False, lang=lang))
    return [item.product_id for item in response.items], response


@pytest.mark.parametrize(
    ("query", "lang", "found", "not_found"),
    [
        # equivalent: both ways, any language's query
        ("sneakers", None, {"sneaker", "trainer"}, set()),
        ("trainers", None, {"sneaker", "trainer"}, set()),
        ("trainers", "de", {"sneaker-de"}, set()),
        # one-way, English: left to right only
        ("tv", "en", {"tv-stand", "television"}, set()),
        ("television", "en", {"television"}, {"tv-stand"}),
        # a rule of another language does not apply
        ("tv", "de", {"tv-stand"}, {"television"}),
        ("handy", "de", {"handy", "smartphone", "smartphone-en"}, set()),
        ("handy", "en", {"handy"}, {"smartphone", "smartphone-en"}),
        ("smartphone", "de", {"smartphone", "smartphone-en"}, {"handy"}),
        # a multi-word phrase, both ways; all of its words are required
        ("joggers", "en", {"jogger", "running"}, set()),
        ("running shoes", "en", {"jogger", "running"}, set()),
    ],
)
def test_synonym_rules_recall_as_the_rule_says(
    shop: EmbeddedRecall, query: str, lang: str | None, found: set[str], not_found: set[str]
) -> None:
    ids, _response = _ids(shop, query, lang)
    assert found <= set(ids)
    assert not (not_found & set(ids))


def test_without_rules_nothing_more_is_found(shop: EmbeddedRecall) -> None:
    assert _ids(shop, "trainers", "en", rules=SynonymSet.of([]))[0] == ["trainer"]
    assert SearchService(shop, None).search(search_request("trainers", rerank=False)).synonyms == []


@pytest.mark.parametrize(("query", "typed"), [("sneakers", "sneaker"), ("trainers", "trainer")])
def test_the_typed_term_ranks_above_its_synonym(shop: EmbeddedRecall, query: str, typed: str):
    ids, response = _ids(shop, query)
    assert ids[0] == typed
    assert [s.term for s in response.synonyms] == [query]


def test_the_response_and_the_match_set_show_the_synonyms(shop: EmbeddedRecall) -> None:
    ids, response = _ids(shop, "tv", "en")
    assert [(s.term, s.also) for s in response.synonyms] == [("tv", ("television",))]
    assert response.as_dict()["synonyms"] == [{"term": "tv", "also": ("television",)}]
    pipeline = SearchService(shop, None, config=SearchConfig(synonyms=lambda: RULES))
    page = pipeline.search(search_request("tv", size=1, lang="en", rerank=False))
    assert page.total == len(ids) == 2 and page.has_more
    second = pipeline.search(search_request("tv", page=2, size=1, lang="en", rerank=False))
    assert [item.product_id for item in second.items] == [ids[1]]


def test_the_snapshot_is_read_once_per_search(shop: EmbeddedRecall) -> None:
    calls = []

    def snapshot() -> SynonymSet:
        calls.append(1)
        return RULES

    SearchService(shop, None, config=SearchConfig(synonyms=snapshot)).search(
        search_request("tv", rerank=False, lang="en")
    )
    assert len(calls) == 1


@pytest.mark.parametrize(
    ("query", "languages", "expected"),
    [
        ("Running Shoes, size 42", ["en"], [("running shoes", ("joggers",))]),
        ("red running shoes", ["de"], []),  # an English rule, a German query
        ("TV!", ["en"], [("tv", ("television",))]),
        ("television", ["en"], []),  # one-way: never right to left
        ("sneakers trainers", [], [("sneakers", ("trainers",)), ("trainers", ("sneakers",))]),
        ("handy", ["de", "en"], [("handy", ("smartphone",))]),
        ("sneaker", ["en"], []),  # rule terms are compared as written, not stemmed
    ],
)
def test_expansions_match_whole_phrases_longest_first(
    query: str, languages: list[str], expected: list[tuple[str, tuple[str, ...]]]
) -> None:
    assert RULES.expansions(query, languages) == expected


def test_a_product_holding_several_synonyms_never_outranks_the_typed_term(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    recall = EmbeddedRecall(tmp_path_factory.mktemp("several"))
    plain = {"description": "", "bullets": [], "brand": "Acme", "category": "Shop"}
    try:
        recall.index(
            [
                make_product(id="typed", title="Sneakers canvas", **plain),
                make_product(id="both", title="Trainers and running shoes", **plain),
            ]
        )
        rules = SynonymSet.of(
            [
                parse_synonym_line("sneakers => trainers", "en"),
                parse_synonym_line("sneakers => running shoes", "en"),
            ]
        )
        ids, _response = _ids(recall, "sneakers", "en", rules=rules)  # type: ignore[arg-type]
        assert ids == ["typed", "both"]
    finally:
        recall.close()
