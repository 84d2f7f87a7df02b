"""German compounds split into the word list's words (Lucene's dictionary decompounder), the word
list itself, and what the split does for recall on a real tantivy index."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from catalog.analysis import analyze, analyze_query
from catalog.decompound import (
    MAX_SUBWORD_SIZE,
    MIN_SUBWORD_SIZE,
    MIN_WORD_SIZE,
    compound_parts,
    word_list,
)
from catalog.decompound_words import HEADER, main, nouns, word_list_text
from search.recall.embedded.backend import EmbeddedRecall
from tests.conftest import make_product

GERMAN = word_list("de")


@pytest.mark.parametrize(
    ("word", "parts"),
    [
        ("schreibtischstuhl", ["schreib", "tisch", "stuhl"]),
        ("bürostuhl", ["büro", "rost", "stuhl"]),  # "rost" (rust): the brute force's noise
        ("burostuhl", ["buro", "rost", "stuhl"]),  # typed without the umlaut: split alike
        ("sonnencreme", ["sonnen", "creme"]),
        ("wanderschuhe", ["wander", "schuh"]),  # the longest entry from each position
        ("gartenstuhl", ["garten", "arten", "stuhl"]),
        ("weißwein", ["wein"]),  # callers pass casefolded words: "weisswein"
        ("weisswein", ["weiss", "wein"]),
        ("tisch", ["tisch"]),  # a word in the list is its own part (Lucene does the same)
        ("ecke", []),  # shorter than MIN_WORD_SIZE: never split
        ("x123456", []),
        ("", []),
    ],
)
def test_a_word_is_split_into_the_longest_list_word_at_each_position(
    word: str, parts: list[str]
) -> None:
    assert compound_parts(word, GERMAN) == parts


def test_languages_without_a_word_list_are_never_split() -> None:
    assert word_list("en") == word_list("nl") == frozenset()
    assert compound_parts("schreibtischstuhl", word_list("en")) == []
    assert "stuhl" not in analyze("Schreibtischstuhl", "en-US")


def test_the_shipped_word_list_is_casefolded_sorted_and_within_the_part_sizes() -> None:
    text = resources.files("catalog").joinpath("data", "decompound_de.txt").read_text("utf-8")
    assert text.startswith("# German compound parts") and "GPL-2+" in text
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert lines == sorted(set(lines)) and len(lines) > 20_000
    assert frozenset(lines) == GERMAN
    assert all(MIN_SUBWORD_SIZE <= len(w) <= MAX_SUBWORD_SIZE for w in lines)
    assert all(w == w.casefold() and w.isalpha() for w in lines)
    # Every umlaut spelling has its folded twin, so "kopfhorer" splits like "kopfhörer".
    assert all(w.translate(str.maketrans("äöü", "aou")) in GERMAN for w in lines)
    assert MIN_WORD_SIZE > MIN_SUBWORD_SIZE


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        ("Stuhl/STmij", ["stuhl"]),
        ("Hörer/NSm", ["hörer", "horer"]),
        ("Straße/Nm", ["strasse"]),  # casefolded as the analysis folds ß
        ("Sonnen/hij", ["sonnen"]),  # a compound-initial form is a noun spelling too
        ("lecken/DIXY", []),  # verbs (lower case) do not split nouns
        ("schön/A", []),
        ("Arbeitsgeber/dNSF", []),  # the dictionary's own forbidden misspellings
        ("Ei/PS", []),  # shorter than MIN_SUBWORD_SIZE
        ("Donaudampfschifffahrt/S", []),  # longer than MAX_SUBWORD_SIZE
        ("USB/S", []),  # abbreviations are not nouns of one capital
        ("E-Mail/S", []),
        ("Dankeschön", ["dankeschön", "dankeschon"]),  # no flags
    ],
)
def test_the_word_list_keeps_the_dictionarys_nouns_only(line: str, kept: list[str]) -> None:
    assert list(nouns([line])) == kept


def test_the_word_list_builder_writes_sorted_distinct_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dic = tmp_path / "de_DE.dic"
    dic.write_text("3\nTisch/EPS\nStuhl/ST\nTisch/hke\n", encoding="utf-8")
    assert word_list_text(["Tisch/EPS", "Stuhl/ST", "Tisch/hke"]) == HEADER + "stuhl\ntisch\n"
    assert main([str(dic)]) == 0
    assert capsys.readouterr().out == HEADER + "stuhl\ntisch\n"
    assert main([]) == 2


def test_index_and_query_terms_also_yield_the_stems_of_their_parts() -> None:
    assert analyze("Schreibtischstuhl", "de-DE") == [
        "schreibtischstuhl", "schreib", "tisch", "stuhl"]  # fmt: skip
    # A hyphenated compound's parts and its joined form are split alike (word delimiter first).
    assert {"kaffe", "tass"} <= set(analyze("Kaffee-Tasse", "de"))
    # A query's joined pair ("kaffee tasse" -> "kaffeetasse") splits back into its words.
    assert {"kaffe", "tass", "kaffeetass"} <= set(analyze_query("Kaffee Tasse", "de"))


# Compound queries and the products that hold one of their parts (none of them from the judged
# sample queries).
FINDS = [
    ("gartenstuhl", "Klappbarer Stuhl aus Akazienholz"),
    ("Kaffeetasse", "Tasse aus Steingut, 300 ml"),
    ("winterjacke damen", "Gefütterte Jacke für Damen"),
    ("Küchenmesser", "Messer aus Damaszener Stahl"),
    ("Hundeleine", "Reflektierende Leine, 2 m"),
    ("Wanderschuhe", "Schuhregal aus Bambus"),
    ("Stuhlkissen", "Bürostuhl mit Netzrücken"),
    ("Tischlampe", "Schreibtischlampe mit Klemme"),
]


@pytest.fixture(scope="module")
def german_index(tmp_path_factory: pytest.TempPathFactory) -> EmbeddedRecall:
    recall = EmbeddedRecall(tmp_path_factory.mktemp("decompound") / "index")
    products = [
        make_product(id=f"de-{n}", locale="de-DE", title=title, brand="Marke", category="Haus",
                     description=title, bullets=[])
        for n, (_query, title) in enumerate(FINDS)
    ]  # fmt: skip
    recall.index(products)
    return recall


@pytest.mark.parametrize(("query", "title"), FINDS)
def test_a_compound_query_finds_a_product_named_by_one_of_its_parts(
    german_index: EmbeddedRecall, query: str, title: str
) -> None:
    hits = german_index.search(query, limit=3, analyze_as=["de"])
    assert title in [hit.product.title for hit in hits]
