from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from catalog.analysis import analyze, cjk_bigrams, query_languages, query_terms, stop_terms
from catalog.language import detect_language


def test_chinese_is_cut_into_overlapping_bigrams() -> None:
    assert analyze("深度学习", "zh-CN") == ["深度", "度学", "学习"]


def test_a_lone_cjk_character_stands_for_itself() -> None:
    assert list(cjk_bigrams("猫")) == ["猫"]


def test_latin_words_inside_cjk_text_are_kept_whole() -> None:
    assert analyze("降噪耳机Pro", "zh-CN") == ["降噪", "噪耳", "耳机", "pro"]


def test_full_width_letters_match_ascii() -> None:
    assert analyze("ＵＳＢ充电", "ja-JP") == analyze("USB充电", "ja-JP")


def test_german_umlauts_match_plain_vowels_and_plurals_match() -> None:
    assert analyze("Kopfhörer", "de-DE") == analyze("kopfhorer", "de-DE")
    assert analyze("Laufschuhe", "de-DE") == analyze("Laufschuh", "de-DE")


def test_spanish_accents_do_not_matter() -> None:
    assert analyze("Cafetera eléctrica", "es-ES") == analyze("cafetera electrica", "es-ES")


def test_russian_inflections_share_a_stem() -> None:
    assert analyze("кроссовки", "ru-RU") == analyze("кроссовками", "ru-RU")
    assert analyze("ёлка", "ru-RU") == analyze("елка", "ru-RU")


def test_arabic_hamza_and_diacritics_are_normalised() -> None:
    assert analyze("أَحْمَر", "ar-SA") == analyze("احمر", "ar-SA")
    assert analyze("قهـــوة", "ar-SA") == analyze("قهوة", "ar-SA")


def test_query_script_picks_the_candidate_languages() -> None:
    assert query_languages("무선 이어폰") == ("zh",)
    assert query_languages("قهوة") == ("ar",)
    assert query_languages("кофе") == ("ru",)
    assert "de" in query_languages("kaffee") and "es" in query_languages("kaffee")


def test_query_terms_are_distinct() -> None:
    terms = query_terms("shoes shoes", ["en", "de"])
    assert len(terms) == len(set(terms))


def test_language_of_short_queries_is_detected() -> None:
    assert detect_language("降噪耳机") == ("zh", 1.0)
    detected = detect_language("Kaffeebohnen selbst mahlen")
    assert detected is not None and detected[0] == "de"
    assert detect_language("12345") is None


@given(st.text(max_size=200), st.sampled_from(["zh", "ja", "ko", "ar", "ru", "en", "de", "es"]))
def test_analysis_never_yields_empty_or_spaced_terms(text: str, language: str) -> None:
    for term in analyze(text, language):
        assert term and not any(ch.isspace() for ch in term)
        assert len(term) <= 40


@given(st.text(alphabet=st.characters(codec="ascii"), max_size=100))
def test_analysis_ignores_case(text: str) -> None:
    assert analyze(text.upper(), "en") == analyze(text.lower(), "en")


def test_stop_terms_are_the_languages_stop_words_analysed_like_the_index() -> None:
    german = stop_terms(["de-DE"])
    assert "fur" in german  # "für", ascii-folded as the index folds it
    assert "katz" not in german
    assert "для" in stop_terms(["ru"]) and "for" in stop_terms(["en"])


def test_cjk_languages_have_no_stop_terms() -> None:
    assert stop_terms(["zh", "ja", "ko"]) == frozenset()
