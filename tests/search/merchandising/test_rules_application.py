"""Merchandising rules applied to result sets on a real tantivy index (and the tiny reranker):
pins across pages, hides out of pages, totals and facets, boosts, sorts, time windows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from search.merchandising.apply import RuleSet
from search.merchandising.model import Rule
from search.pipeline.config import SearchConfig
from search.pipeline.request import search_request
from search.pipeline.service import SearchResult, SearchService
from search.recall.embedded.backend import EmbeddedRecall
from search.rerank.cache import NoScoreCache
from search.rerank.rerankers import LocalReranker
from tests.conftest import make_product
from workers.rerank.model import RerankModel

NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
BRANDS = ("Acme", "Brookline", "Calder")


@pytest.fixture(scope="module")
def mugs(tmp_path_factory: pytest.TempPathFactory) -> EmbeddedRecall:
    """20 mugs (three brands, two categories) and one lamp no mug query matches."""
    recall = EmbeddedRecall(Path(tmp_path_factory.mktemp("mugs")))
    products = [
        make_product(
            id=f"mug-{i:02d}",
            title=f"ceramic mug {'large ' * (i % 4)}model {i}",
            brand=BRANDS[i % 3],
            category=("Kitchen > Mugs", "Kitchen > Cups")[i % 2],
            price=10.0 + i,
        )
        for i in range(20)
    ]
    products.append(make_product(id="lamp-1", title="desk lamp", brand="Lumo",
                                 category="Home > Lighting", price=99.0))  # fmt: skip
    recall.index(products)
    return recall


@pytest.fixture(scope="module")
def plain(mugs: EmbeddedRecall) -> SearchService:
    return SearchService(mugs, None)


@pytest.fixture(scope="module")
def reranked(mugs: EmbeddedRecall, rerank_model: RerankModel) -> SearchService:
    return SearchService(
        mugs, LocalReranker(rerank_model, NoScoreCache()), config=SearchConfig(deadline_ms=20_000)
    )


def rule(rule_id: str = "r1", *, phrase: str = "mug", match: str = "contains",
         **fields: Any) -> Rule:  # fmt: skip
    actions = {key: fields.pop(key) for key in ("pins", "hide", "boosts") if key in fields}
    return Rule.model_validate(
        {"id": rule_id, "condition": {"match": match, "phrase": phrase, **fields.pop("cond", {})},
         "actions": actions, "created_at": NOW, "updated_at": NOW, **fields}
    )  # fmt: skip


def pages(
    pipeline: SearchService, rules: RuleSet | None, n: int = 5, **kw: Any
) -> list[SearchResult]:
    kw.setdefault("rerank", False)
    return [
        pipeline.with_config(rules=lambda: rules).search(
            search_request("ceramic mug", page=p, size=5, **kw), now=NOW
        )
        for p in range(1, n + 1)
    ]


def ids(results: list[SearchResult]) -> list[str]:
    return [item.product_id for result in results for item in result.items]


def test_pins_hold_their_positions_across_pages_with_nothing_lost_or_repeated(
    plain: SearchService,
) -> None:
    before = ids(pages(plain, None))
    hidden, deep = before[0], before[12]
    rules = RuleSet([rule(pins=[{"product_id": "lamp-1", "position": 2},
                                {"product_id": deep, "position": 6}], hide=[hidden])])  # fmt: skip
    results = pages(plain, rules, facets=("brand", "category"))
    after = ids(results)
    assert after[1] == "lamp-1" and after[5] == deep  # page 1 position 2, page 2 position 6
    assert hidden not in after and len(after) == len(set(after))
    assert set(after) == (set(before) - {hidden}) | {"lamp-1"}
    assert [r.total for r in results] == [20] * 5 and len(after) == 20
    assert [i.position for r in results for i in r.items] == list(range(1, 21))
    organic = [pid for pid in after if pid not in {"lamp-1", deep}]
    assert organic == [pid for pid in before if pid not in {hidden, deep}]  # order kept
    marked = [(i.product_id, i.rule) for r in results for i in r.items if i.pinned]
    assert marked == [("lamp-1", "r1"), (deep, "r1")]
    assert results[0].rules == ("r1",)
    facets = results[0].facets
    assert {v.value: v.count for v in facets["brand"]}["Lumo"] == 1
    kitchen = {v.value: v.count for v in facets["category"]}
    assert kitchen["Kitchen"] == 19 and kitchen["Home"] == 1  # the hidden mug left, the lamp came


def test_a_pin_past_the_end_closes_up_and_a_pin_outside_the_filters_is_not_shown(
    plain: SearchService,
) -> None:
    rules = RuleSet([rule(pins=[{"product_id": "lamp-1", "position": 100}])])
    after = ids(pages(plain, rules))
    assert after[-1] == "lamp-1" and len(after) == 21
    only_acme = pages(plain, rules, brand="Acme")
    assert "lamp-1" not in ids(only_acme) and only_acme[0].total == 7


def test_hides_apply_under_every_sort_and_pins_only_under_relevance(
    plain: SearchService,
) -> None:
    rules = RuleSet([rule(pins=[{"product_id": "lamp-1", "position": 1}], hide=["mug-00"])])
    cheap = pages(plain, rules, sort="price_asc")
    assert ids(cheap)[:2] == ["mug-01", "mug-02"] and "lamp-1" not in ids(cheap)
    assert cheap[0].total == 19


def test_boost_and_bury_reorder_the_reranked_head_and_no_rerank_undoes_a_pin(
    reranked: SearchService,
) -> None:
    rules = RuleSet([
        rule(boosts=[{"field": "brand", "value": "calder", "factor": 100}],
             pins=[{"product_id": "lamp-1", "position": 1}]),
        rule("r2", boosts=[{"field": "category", "value": "Kitchen > Cups", "factor": 0.01}]),
    ])  # fmt: skip
    results = pages(reranked, rules, rerank=True)
    assert results[0].reranked
    order = ids(results)
    assert order[0] == "lamp-1" and results[0].items[0].pinned  # the model never moves a pin
    assert set(order[1:4]) == {"mug-02", "mug-08", "mug-14"}  # Calder mugs (x100)
    buried = {f"mug-{i:02d}" for i in (1, 3, 7, 9, 13, 15, 19)}  # cups of other brands (x0.01)
    assert set(order[-7:]) == buried and len(order) == 21
    marks = {i.product_id: (i.rule, i.boost) for r in results for i in r.items}
    assert marks["mug-02"] == ("r1", 100.0) and marks["mug-01"] == ("r2", 0.01)
    assert marks["mug-05"] == ("r1", 1.0)  # a Calder cup: both rules, x100 x0.01


@pytest.mark.parametrize(
    ("window", "applies"),
    [
        ({}, True),
        ({"start": NOW - dt.timedelta(hours=1), "end": NOW + dt.timedelta(seconds=1)}, True),
        ({"end": NOW}, False),  # end is exclusive: over at NOW
        ({"start": NOW + dt.timedelta(seconds=1)}, False),  # not started yet
        ({"start": NOW}, True),  # start is inclusive
        ({"enabled": False}, False),
    ],
)
def test_a_rule_applies_only_inside_its_time_window_judged_at_search_time(
    plain: SearchService, window: dict[str, Any], applies: bool
) -> None:
    rules = RuleSet([rule(hide=["mug-00"], **window)])
    result = plain.with_config(rules=lambda: rules).search(
        search_request("ceramic mug", rerank=False), now=NOW
    )
    assert ("mug-00" not in [i.product_id for i in result.items]) is applies
    assert result.rules == (("r1",) if applies else ())


@pytest.mark.parametrize(
    ("query", "match", "phrase", "language", "lang", "applies"),
    [
        ("ceramic mug", "equals", "Ceramic  MUG", None, None, True),
        ("ceramic mug", "equals", "mug", None, None, False),
        ("ceramic mug", "contains", "mug", None, None, True),
        ("ceramic mugs", "contains", "mug", None, None, False),  # words, not substrings
        ("ceramic mug", "contains", "ceramic-mug", None, None, True),  # punctuation is no word
        ("ＣＥＲＡＭＩＣ mug", "contains", "ceramic", None, None, True),  # NFKC, case folding
        ("ceramic mug", "contains", "mug", "de", None, False),  # no language stated
        ("ceramic mug", "contains", "mug", "de", "de", True),
        ("ceramic mug", "contains", "mug", "de-AT", "de-DE", True),
        ("ceramic mug", "contains", "mug", "de", "en", False),
    ],
)
def test_conditions_match_normalised_words_in_their_language(
    plain: SearchService, query: str, match: str, phrase: str, language: str | None,
    lang: str | None, applies: bool,
) -> None:  # fmt: skip
    rules = RuleSet([rule(phrase=phrase, match=match, cond={"language": language},
                          hide=["mug-00"])])  # fmt: skip
    result = plain.with_config(rules=lambda: rules).search(
        search_request(query, rerank=False, lang=lang), now=NOW
    )
    assert (result.rules == ("r1",)) is applies
