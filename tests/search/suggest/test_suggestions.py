"""Completions: ranking, CJK prefixes, Latin typo prefixes, and the catalog read from a real
tantivy index of the sample catalog."""

from __future__ import annotations

import pytest

from search.recall.embedded.backend import EmbeddedRecall
from search.suggest.catalog_words import CatalogRecord, count_catalog_words, indexed_records
from search.suggest.index import Completion, PrefixIndex
from search.suggest.popular import PopularQuery
from search.suggest.service import SuggestSnapshot, build_snapshot


@pytest.fixture(scope="module")
def sample_snapshot(sample_index: EmbeddedRecall) -> SuggestSnapshot:
    """Suggestions of the sample catalog, read from its tantivy index, and a few popular
    queries."""
    popular = [
        PopularQuery("en", "wireless headphones", 9),
        PopularQuery("en", "Wireless Headphones", 7),  # another spelling: the larger count stays
        PopularQuery("en", "wireless charger", 5),
        PopularQuery("zh", "无线耳机", 6),
    ]
    words = count_catalog_words(indexed_records(sample_index.path), min_products=2)
    return build_snapshot(popular, words, max_limit=20)


def texts(snapshot: SuggestSnapshot, prefix: str, language: str | None, limit: int = 10
          ) -> list[tuple[str, bool]]:  # fmt: skip
    return [(s.text, s.typo) for s in snapshot.suggest(prefix, language, limit)]


def test_the_catalog_is_read_whole_from_the_index(sample_index: EmbeddedRecall) -> None:
    records = list(indexed_records(sample_index.path))
    assert len(records) == sample_index.count() == 640
    assert {r.locale.split("-")[0] for r in records} == {
        "en",
        "de",
        "es",
        "ru",
        "ar",
        "zh",
        "ja",
        "ko",
    }


def test_popular_queries_rank_first_then_catalog_frequency(
    sample_snapshot: SuggestSnapshot,
) -> None:
    found = sample_snapshot.suggest("wi", "en", 4)
    assert [(s.text, s.users) for s in found[:2]] == [("wireless headphones", 9),
                                                       ("wireless charger", 5)]  # fmt: skip
    assert [s.users for s in found[2:]] == [0, 0]
    assert [s.products for s in found[2:]] == sorted((s.products for s in found[2:]), reverse=True)


def test_ties_are_broken_by_text() -> None:
    index = PrefixIndex(
        [
            Completion("b", "b", 1, 2),
            Completion("ab", "ab", 1, 2),
            Completion("aa", "aa", 1, 2),
            Completion("c", "c", 1, 3),
            Completion("d", "d", 2, 0),
        ],  # fmt: skip
        typo_tolerant=True,
        max_limit=10,
    )
    assert [s.text for s in index.lookup("", 10)] == ["d", "c", "aa", "ab", "b"]


CJK_PREFIXES = [
    ("zh", "无", "无线耳机"),  # a popular query, one character typed
    ("zh", "手机", "手机与音频"),  # a category
    ("zh", "青", "青藤出版社"),  # a brand
    ("ja", "スマ", "スマートフォン"),
    ("ja", "ｽﾏｰﾄ", "スマートフォン"),  # half-width katakana folds (NFKC)
    ("ja", "猫", "猫用品"),
    ("ko", "무", "무선"),
    ("ko", "커피", "커피"),
]


@pytest.mark.parametrize(("language", "prefix", "expected"), CJK_PREFIXES)
def test_cjk_prefixes_complete_by_characters(
    sample_snapshot: SuggestSnapshot, language: str, prefix: str, expected: str
) -> None:
    found = texts(sample_snapshot, prefix, language, 20)
    assert (expected, False) in found
    assert all(text.casefold().startswith(prefix[:1]) or not typo for text, typo in found)


LATIN_PREFIXES = [
    # prefix, language, expected completion, with a typo?
    ("wirel", "en", "wireless headphones", False),
    ("WIREL", "en", "wireless headphones", False),
    ("wirles", "en", "wireless headphones", True),  # deletion
    ("wierl", "en", "wireless headphones", True),  # transposition
    ("wiireless", "en", "wireless headphones", True),  # insertion
    ("wureless", "en", "wireless headphones", True),  # substitution
    ("wirelessh", "en", "wireless headphones", True),  # a missing space
    ("kafe", "de", "Kaffee", True),  # four characters: the shortest with typos
    ("kafffee", "de", "Kaffee", True),
]


@pytest.mark.parametrize(("prefix", "language", "expected", "typo"), LATIN_PREFIXES)
def test_latin_prefixes_tolerate_one_typo_from_four_characters(
    sample_snapshot: SuggestSnapshot, prefix: str, language: str, expected: str, typo: bool
) -> None:
    assert (expected, typo) in texts(sample_snapshot, prefix, language)


NO_TYPO_PREFIXES = [
    ("wre", "en"),  # three characters: exact only
    ("wirelesz headphones x", "en"),  # two edits away
    ("无钱", "zh"),  # CJK: never
    ("ｗｉｒｅｌ２", "en"),  # a digit: model numbers are typed exactly
]


@pytest.mark.parametrize(("prefix", "language"), NO_TYPO_PREFIXES)
def test_no_typo_completion_where_the_rules_exclude_it(
    sample_snapshot: SuggestSnapshot, prefix: str, language: str
) -> None:
    assert not any(typo for _, typo in texts(sample_snapshot, prefix, language))


def test_exact_completions_come_before_typo_completions() -> None:
    index = PrefixIndex(
        [Completion("cable", "cable", 0, 1), Completion("table", "table", 50, 0)],
        typo_tolerant=True,
        max_limit=10,
    )
    assert [(s.text, s.typo) for s in index.lookup("cabl", 10)] == [("cable", False),
                                                                   ("table", True)]  # fmt: skip


def test_a_trailing_space_ends_the_word(sample_snapshot: SuggestSnapshot) -> None:
    assert ("wireless headphones", False) in texts(sample_snapshot, "wireless ", "en")
    assert ("Wireless", False) not in texts(sample_snapshot, "wireless ", "en")


def test_without_a_language_every_language_answers(sample_snapshot: SuggestSnapshot) -> None:
    found = texts(sample_snapshot, "无", None)
    assert found[0] == ("无线耳机", False)


def test_title_ngrams_need_min_products_and_skip_stop_words_and_numbers() -> None:
    records = [
        CatalogRecord("en-US", "Steel Water Bottle for Kids 12 oz", "Acme", "Home > Kitchen"),
        CatalogRecord("en-GB", "Steel Water Bottle for Kids, 500 ml", "Acme", "Home"),
        CatalogRecord("en-US", "Bamboo Cutting Board", "Woodly", "Home > Kitchen"),
    ]
    words = count_catalog_words(records, min_products=2).products["en"]
    assert words["steel water bottle"] == 2
    assert words["acme"] == 2 and words["woodly"] == 1  # brands: from one product on
    assert words["kitchen"] == 2
    assert words["home"] == 3  # a category the shop named, though "home" is an English stop word
    assert "bamboo" not in words  # one product
    assert "bottle for" not in words and "for kids" not in words
    assert "bottle for kids" in words  # a stop word inside a run is kept
    assert not any(key[0].isdigit() for key in words)
