"""Suggestions across scripts and stop words: Traditional and Simplified Han and kana variants
fold as search folds them, unsegmented Chinese and Japanese titles give their words
(character n-grams), and no completion is, starts or ends with a stop word in any language
that has a stop-word list."""

from __future__ import annotations

import pytest
from stop_words import safe_get_stop_words

from catalog.locales import LANGUAGES
from search.recall.embedded.backend import EmbeddedRecall
from search.suggest.catalog_words import CatalogRecord, count_catalog_words, indexed_records
from search.suggest.popular import PopularQuery
from search.suggest.service import SuggestSnapshot, build_snapshot
from search.suggest.stops import is_stop_word


@pytest.fixture(scope="module")
def sample_words(sample_index: EmbeddedRecall) -> SuggestSnapshot:
    """The sample catalog's words and two popular queries, one Simplified, one with kana."""
    popular = [PopularQuery("zh", "降噪耳机", 8), PopularQuery("ja", "ラーメン", 5)]
    words = count_catalog_words(indexed_records(sample_index.path), min_products=2)
    return build_snapshot(popular, words, max_limit=20)


SCRIPT_CASES = [
    # language, prefix, a completion it must find (shown as written)
    ("zh", "咖啡", "咖啡"),  # inside 咖啡机除垢剂, 手冲咖啡..., 挂耳咖啡: a word of no title alone
    ("zh", "耳机", "耳机"),  # inside 真无线蓝牙耳机 and others
    ("zh", "蓝牙", "蓝牙耳机"),
    ("zh", "耳機", "耳机"),  # Traditional prefix, Simplified titles
    ("zh", "降噪耳機", "降噪耳机"),  # Traditional prefix, Simplified popular query
    ("zh", "跑步", "跑步鞋"),
    ("ja", "コーヒー", "コーヒー豆"),  # a katakana word inside a title, whole
    ("ja", "充電", "充電"),  # kanji inside a kana/kanji title
    ("ja", "電動", "電動"),
    ("ja", "电动", "電動"),  # kanji fold as search folds them: shown as the title writes it
    ("ja", "ラ～メ", "ラーメン"),  # a wave dash typed for the prolonged sound mark
    ("ja", "ｽﾏﾎ", "スマホ"),  # half-width katakana
    ("ko", "무선", "무선 이어폰"),  # Korean writes spaces: words already
    ("ko", "이어", "이어폰"),
]


@pytest.mark.parametrize(("language", "prefix", "expected"), SCRIPT_CASES)
def test_cjk_prefixes_find_words_inside_titles_in_either_script(
    sample_words: SuggestSnapshot, language: str, prefix: str, expected: str
) -> None:
    found = [s.text for s in sample_words.suggest(prefix, language, 20)]
    assert expected in found


def test_traditional_titles_complete_simplified_prefixes_and_keep_their_spelling() -> None:
    records = [CatalogRecord("zh-TW", f"聲匠 無線降噪耳機 {n}", "聲匠") for n in range(2)]
    snapshot = build_snapshot([], count_catalog_words(records, min_products=2), max_limit=10)
    assert "無線降噪耳機" in [s.text for s in snapshot.suggest("无线", "zh", 10)]
    assert "無線降噪耳機" in [s.text for s in snapshot.suggest("無線", "zh", 10)]


def test_cjk_ngrams_are_maximal_and_need_min_products() -> None:
    titles = ["无线降噪耳机 黑色", "无线降噪耳机 白色", "头戴降噪耳机", "手冲咖啡壶"]
    records = [CatalogRecord("zh-CN", title) for title in titles]
    words = count_catalog_words(records, min_products=2).products["zh"]
    assert words["降噪耳机"] == 3
    assert words["无线降噪耳机"] == 2  # the whole run, a word of two titles
    for part in ("降噪耳", "噪耳机", "降噪", "耳机", "无线", "无线降噪"):  # always inside a longer
        assert part not in words, part
    assert "咖啡" not in words and "手冲" not in words  # one product
    assert "色" not in words  # one character


def _stop_word_cases() -> list[tuple[str, str]]:
    """The trial's words, then the first three alphabetic words of every list."""
    cases = [("de", "für"), ("de", "ohne"), ("es", "para"), ("ru", "для"), ("en", "for")]
    for code, language in sorted(LANGUAGES.items()):
        if language.script != "cjk":
            listed = [w for w in safe_get_stop_words(code) if w.isalpha()][:3]
            cases += [(code, word) for word in listed]
    return cases


STOP_WORD_CASES = _stop_word_cases()


@pytest.mark.parametrize(("language", "stop"), STOP_WORD_CASES)
def test_no_completion_is_starts_or_ends_with_a_stop_word(language: str, stop: str) -> None:
    locale = language
    records = [
        CatalogRecord(locale, f"{stop} zorbel quimble {stop} {n}", "Acme", "Misc") for n in range(3)
    ] + [CatalogRecord(locale, f"quimble {stop.capitalize()} zorbel {n}") for n in range(3)]
    popular = [PopularQuery(language, stop, 50), PopularQuery(language, f"{stop} quimble", 40),
               PopularQuery(language, f"quimble {stop}", 30)]  # fmt: skip
    snapshot = build_snapshot(popular, count_catalog_words(records, min_products=2), max_limit=20)
    found = [s.text.casefold().split() for s in snapshot.suggest("", language, 20)]
    found += [s.text.casefold().split() for s in snapshot.suggest(stop[:2], language, 20)]
    assert ["zorbel", "quimble"] in found  # the content words are completions
    assert not [words for words in found if stop.casefold() in (words[0], words[-1])]


def test_a_category_the_shop_named_is_kept_though_it_holds_stop_words() -> None:
    records = [
        CatalogRecord("en-US", f"Zorbel {n}", "Acme", "Home & Kitchen > Home") for n in (1, 2)
    ]
    words = count_catalog_words(records, min_products=2).products["en"]
    assert words["home & kitchen"] == 2 and words["home"] == 2  # "home": an English stop word


def test_a_word_whose_stem_is_a_stop_word_is_not_one() -> None:
    assert is_stop_word("Für", "de") and is_stop_word("OHNE", "de")
    assert not is_stop_word("grano", "es")  # stems to the listed "gran"
    assert not is_stop_word("Ран", "ru")  # stems to "ран", as "рано" does
    assert not is_stop_word("的", "zh")  # CJK: no list
