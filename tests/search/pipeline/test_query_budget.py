"""The query budget on the real search path: a real tantivy index of the sample catalog, the
synonym rules from the real synonym store (SQLite), the service every entry point calls.

Hostile queries (the probe's synonym bomb, a 1,000-word query) are cut to the budget, the same
way every time, well within the search deadline; queries within the budget are searched as
before; a query whose first word alone is over the clause budget is refused naming the limit.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.query_budget import bomb_query, catalog_words, synonym_bomb
from catalog.product import Product
from catalog.samples import sample_queries
from search.errors import LimitExceeded
from search.pipeline.budget import cut_words
from search.pipeline.config import SearchConfig
from search.pipeline.request import SearchRequest, search_request
from search.pipeline.service import SearchService
from search.query.budget import QueryBudget
from search.recall.embedded.backend import EmbeddedRecall
from search.recall.lexical import query_words
from search.synonyms.model import SynonymSet, parse_synonym_line
from search.synonyms.store import SynonymStore

DEADLINE_MS = 5000.0  # the default (SHELF_RERANK_DEADLINE_MS + 3000)
UNBOUNDED = QueryBudget(max_terms=10**6, max_clauses=10**7)


@pytest.fixture(scope="module")
def bomb_rules(
    sample_products: list[Product], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SynonymSet]:
    """The probe's 300 rules of 32 terms, imported into a real synonym store, as served."""
    path = tmp_path_factory.mktemp("synonym-store") / "events.db"
    store = SynonymStore(sa.create_engine(f"sqlite:///{path}"))
    lines = synonym_bomb(catalog_words(sample_products))
    store.import_rules([parse_synonym_line(line) for line in lines], None)
    yield store.snapshot()
    store.engine.dispose()


def _service(index: EmbeddedRecall, rules: SynonymSet, budget: QueryBudget) -> SearchService:
    config = SearchConfig(
        recall_mode="bm25", synonyms=lambda: rules, budget=budget, search_deadline_ms=DEADLINE_MS
    )
    return SearchService(index, None, config=config)


def _hostile(products: list[Product], name: str) -> SearchRequest:
    words = catalog_words(products)
    if name == "synonym bomb":  # the public query: 100 words, under 500 characters
        return search_request(bomb_query(words), k=10, rerank=False)
    # Past SHELF_API_MAX_QUERY_CHARS: only a library caller (shelf eval's query file, the
    # simulator) can hand the service this; the HTTP API refuses it (test_budget_api.py).
    return SearchRequest(query=" ".join(words[i % len(words)] for i in range(1000)), rerank=False)


HOSTILE = ["synonym bomb", "1,000-word query"]


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_query_is_cut_to_its_budget_within_the_deadline(
    sample_index: EmbeddedRecall,
    sample_products: list[Product],
    bomb_rules: SynonymSet,
    name: str,
) -> None:
    budget = QueryBudget()
    service = _service(sample_index, bomb_rules, budget)
    request = _hostile(sample_products, name)
    service.search(request)  # the first search reads the index's vocabulary

    wall, cpu = time.perf_counter(), time.thread_time()
    result = service.search(request)
    wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu

    report = result.budget
    assert report is not None and report.cut
    # What was built is within the budget: this bounds the work, whatever the machine's load.
    assert report.terms <= budget.max_terms and report.clauses <= budget.max_clauses
    assert len(result.query.split()) <= budget.max_terms
    searched = sum(len(use.also) for use in result.synonyms)
    assert searched <= budget.max_terms - len(result.query.split())
    # Before the budget: 11-26 s of CPU for the bomb. Now a small part of the deadline, with a
    # margin for a loaded machine (typically 40 ms here).
    assert cpu < DEADLINE_MS / 1000 / 5 and wall < DEADLINE_MS / 1000 / 2


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_query_is_cut_the_same_way_every_time(
    sample_index: EmbeddedRecall,
    sample_products: list[Product],
    bomb_rules: SynonymSet,
    name: str,
) -> None:
    request = _hostile(sample_products, name)
    first = _service(sample_index, bomb_rules, QueryBudget()).search(request)
    # A fresh service and a fresh snapshot of the same rules (another server, a restart).
    again_rules = SynonymSet.of(bomb_rules.rules)
    again = _service(sample_index, again_rules, QueryBudget()).search(request)
    assert again.budget == first.budget
    assert (again.query, again.synonyms) == (first.query, first.synonyms)
    assert [i.product_id for i in again.items] == [i.product_id for i in first.items]


def test_the_query_keeps_its_own_words_first_and_cuts_the_last(
    sample_index: EmbeddedRecall, sample_products: list[Product], bomb_rules: SynonymSet
) -> None:
    request = _hostile(sample_products, "1,000-word query")
    result = _service(sample_index, bomb_rules, QueryBudget(max_terms=40)).search(request)
    words = request.query.split()
    assert result.query.split() == words[:40]
    assert result.budget is not None and list(result.budget.words_dropped) == words[40:]


@pytest.mark.parametrize("query", sample_queries()[::6], ids=lambda q: q["query_id"])
def test_a_query_within_its_budget_is_searched_as_without_one(
    sample_index: EmbeddedRecall, query: dict[str, str]
) -> None:
    rules = SynonymSet.of([parse_synonym_line("headphones, earphones, headset")])
    request = search_request(query["text"], k=20, product_locale=query["locale"], rerank=False)
    budgeted = _service(sample_index, rules, QueryBudget()).search(request)
    unbounded = _service(sample_index, rules, UNBOUNDED).search(request)
    assert budgeted.budget is not None and not budgeted.budget.cut
    assert [(i.product_id, i.bm25_score) for i in budgeted.items] == [
        (i.product_id, i.bm25_score) for i in unbounded.items
    ]
    assert (budgeted.query, budgeted.synonyms, budgeted.corrections) == (
        unbounded.query,
        unbounded.synonyms,
        unbounded.corrections,
    )


@pytest.mark.parametrize(
    ("budget", "kept_words"),
    [
        (QueryBudget(max_terms=3, max_clauses=10**6), 3),  # by terms: the first three words
        (QueryBudget(max_terms=64, max_clauses=1), None),  # the first word alone is over
    ],
)
def test_the_clause_budget_cuts_words_or_refuses_naming_the_limit(
    sample_index: EmbeddedRecall, budget: QueryBudget, kept_words: int | None
) -> None:
    service = _service(sample_index, SynonymSet(), budget)
    request = search_request("kaffeeflecken entferner wireless headphones", rerank=False)
    if kept_words is None:
        with pytest.raises(LimitExceeded, match="SHELF_SEARCH_MAX_CLAUSES"):
            service.search(request)
        return
    result = service.search(request)
    assert len(result.query.split()) == kept_words


def test_a_query_of_many_words_fits_its_clauses_by_dropping_its_last_words(
    sample_index: EmbeddedRecall,
) -> None:
    text = "wireless bluetooth headphones noise cancelling over ear travel case black"
    budget = QueryBudget(max_terms=64, max_clauses=12)
    result = _service(sample_index, SynonymSet(), budget).search(search_request(text, rerank=False))
    report = result.budget
    assert report is not None and report.cut and report.clauses <= 12
    kept = result.query.split()
    assert 1 <= len(kept) < len(text.split()) and text.split()[: len(kept)] == kept
    assert list(report.words_dropped) == text.split()[len(kept) :]


def test_the_service_reads_its_budget_from_the_settings(tmp_path: Path) -> None:
    from search.pipeline.config import search_config
    from search.settings import Settings as ShelfSettings

    config = search_config(
        ShelfSettings(
            data_dir=tmp_path, search_max_terms=7, search_max_clauses=70, search_deadline_ms=900
        )  # fmt: skip
    )
    assert config.budget == QueryBudget(7, 70) and config.search_deadline == 900
    unset = dataclasses.replace(config, search_deadline_ms=None)
    assert unset.search_deadline == unset.deadline_ms + 3000


@settings(max_examples=200, deadline=None)
@given(
    tokens=st.lists(st.sampled_from(["shoe", "red", "-", "x1", "läufer", "!!", "t-shirt"]),
                    max_size=30),
    max_words=st.integers(0, 40),
)  # fmt: skip
def test_cutting_words_keeps_the_first_ones_and_names_the_rest(
    tokens: list[str], max_words: int
) -> None:
    text = " ".join(tokens)
    kept, dropped = cut_words(text, max_words)
    words = query_words(text)
    assert query_words(kept) == words[:max_words] and list(dropped) == words[max_words:]
    assert cut_words(kept, max_words) == (kept, ())  # cutting again changes nothing
