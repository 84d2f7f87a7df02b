"""A German query word's decompounded parts weigh ``COMPOUND_PART_WEIGHT`` of the word itself in
the embedded BM25 query: a product that meets only a part (``Kaffee`` of ``Kaffeeflecken``)
scores that share of what the same part would score as a typed word."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import search.recall.embedded.lexical as lexical_embedded
from search.recall.embedded.backend import EmbeddedRecall
from search.recall.lexical import part_terms
from tests.conftest import make_product


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRecall]:
    recall = EmbeddedRecall(tmp_path_factory.mktemp("parts"))
    plain = {"description": "", "bullets": [], "brand": "Acme", "category": "Haushalt"}
    recall.index(
        [
            make_product(id="whole", title="Kaffeeflecken Entferner", locale="de-DE", **plain),
            make_product(id="part", title="Kaffee Bohnen", locale="de-DE", **plain),
            make_product(id="other", title="Teekanne Glas", locale="de-DE", **plain),
        ]
    )
    yield recall
    recall.close()


def _scores(shop: EmbeddedRecall, query: str) -> dict[str, float]:
    hits = shop.search(query, limit=10, analyze_as=("de",))
    return {hit.product.id: hit.bm25_score for hit in hits}


@pytest.mark.parametrize(
    ("word", "parts"),
    [
        ("kaffeeflecken", {"kaffe", "fleck"}),
        ("schreibtischstuhl", {"tisch", "stuhl"}),
        ("kopfhörer", {"kopf"}),
    ],
)
def test_parts_of_a_compound_are_found(word: str, parts: set[str]) -> None:
    assert parts <= set(part_terms(word, "de"))


def test_a_word_has_no_parts_in_a_language_without_a_word_list() -> None:
    assert part_terms("kaffeeflecken", "en") == ()


def test_a_part_only_match_scores_the_part_weight_of_a_typed_word(
    shop: EmbeddedRecall, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped_weight = lexical_embedded.COMPOUND_PART_WEIGHT
    shipped = _scores(shop, "kaffeeflecken")
    monkeypatch.setattr(lexical_embedded, "COMPOUND_PART_WEIGHT", 1.0)
    unweighted = _scores(shop, "kaffeeflecken")
    assert 0 < shipped_weight < 1
    assert shipped["whole"] > shipped["part"] > 0
    assert shipped["part"] == pytest.approx(unweighted["part"] * shipped_weight)
    assert "other" not in shipped
