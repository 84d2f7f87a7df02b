"""Spelling variants in the analyser: hyphenated, joined and spaced forms, letter-digit
boundaries, case folding of every supported language's special letters, Unicode normalisation
before tokenisation. The same forms through a real index:
tests/search/recall/test_hyphen_compounds.py.
"""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog.analysis import analyze, query_terms
from catalog.word_delimiter import delimited_terms, subwords

# Letters of the supported languages' alphabets (catalog.locales.LANGUAGES), per script.
LATIN = "abcdefghijklmnopqrstuvwxyzäöüßàâæçéèêëîïôœùûÿáíóúñãõìòĳ"
CYRILLIC = "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"
ARABIC = "ابتثجحخدذرزسشصضطظعغفقكلمنهويأإآىة"
SCRIPTS = [("en", LATIN), ("de", LATIN), ("fr", LATIN), ("es", LATIN), ("it", LATIN),
           ("pt", LATIN), ("nl", LATIN), ("ru", CYRILLIC), ("ar", ARABIC)]  # fmt: skip


def _no_cjk(_: str) -> bool:
    return False


@pytest.mark.parametrize(
    ("token", "parts"),
    [
        ("wi-fi", ["wi", "fi"]),
        ("usb3.0", ["usb", "3", "0"]),
        ("iphone15", ["iphone", "15"]),
        ("4k", ["4", "k"]),
        ("(cotton),", ["cotton"]),
        ("cafe\u0301", ["cafe\u0301"]),  # a combining mark belongs to its letter
        ("---", []),
    ],
)
def test_a_token_splits_on_delimiters_and_letter_digit_boundaries(
    token: str, parts: list[str]
) -> None:
    assert [part for part, _ in subwords(token)] == parts


@pytest.mark.parametrize(
    ("token", "terms"),
    [
        ("t-shirt", ["t", "shirt", "tshirt", "t-shirt"]),
        ("usb3.0", ["usb", "3", "0", "30", "usb30", "usb3.0"]),  # catenate_numbers and _all
        ("wi-fi-6", ["wi", "fi", "6", "wifi", "wifi6", "wi-fi-6"]),  # catenate_words
        ("iphone15", ["iphone", "15", "iphone15"]),
        ("cotton,", ["cotton"]),  # a lone part is not repeated
    ],
)
def test_a_token_yields_its_parts_joined_forms_and_itself(token: str, terms: list[str]) -> None:
    assert delimited_terms(token, _no_cjk) == terms


def _forms(first: str, second: str) -> tuple[str, str, str]:
    return f"{first}-{second}", f"{first}{second}", f"{first} {second}"


@given(st.data(), st.sampled_from(SCRIPTS))
def test_hyphenated_joined_and_spaced_forms_find_each_other(
    data: st.DataObject, script: tuple[str, str]
) -> None:
    language, alphabet = script
    word = st.text(alphabet=alphabet, min_size=1, max_size=15)
    forms = _forms(data.draw(word), data.draw(word))
    hyphenated, joined, spaced = forms
    for query in forms:
        for title in forms:
            if (query, title) == (joined, spaced):
                # Splitting a joined word needs a decompounder, as in Lucene: the joined query
                # finds the hyphenated and the joined titles, not the spaced one.
                continue
            shared = set(query_terms(query, [language])) & set(analyze(title, language))
            assert shared, (query, title)


@given(st.text(max_size=60), st.sampled_from(["en", "de", "fr", "ru", "ar", "ja", "ko", "zh"]))
def test_analysis_is_the_same_for_composed_and_decomposed_input(text: str, language: str) -> None:
    composed = analyze(unicodedata.normalize("NFC", text), language)
    assert analyze(unicodedata.normalize("NFD", text), language) == composed


@given(st.sampled_from(SCRIPTS), st.data())
def test_upper_lower_and_title_case_analyse_alike(
    script: tuple[str, str], data: st.DataObject
) -> None:
    language, alphabet = script
    text = data.draw(st.text(alphabet=alphabet + " -", max_size=40))
    lower = analyze(text.lower(), language)
    assert analyze(text.upper(), language) == lower
    assert analyze(text.title(), language) == lower


@given(
    st.text(alphabet=LATIN, min_size=2, max_size=12),
    st.characters(categories=["Mn"], max_codepoint=0x36F),
)
def test_a_combining_mark_never_splits_its_word(word: str, mark: str) -> None:
    assert len(analyze(word[0] + mark + word[1:], "en")) == 1


# Each supported language's special letters: (language, written one way, written another).
SPECIAL_LETTERS = [
    ("de", "STRASSE", "Straße"),
    ("de", "STRAẞE", "straße"),
    ("de", "Kopfhörer", "KOPFHÖRER"),
    ("es", "ÑANDÚ", "ñandú"),
    ("fr", "ŒUVRE ÇA", "œuvre ça"),
    ("it", "CITTÀ", "città"),
    ("pt", "AÇÃO", "ação"),
    ("nl", "ĲSJE", "ijsje"),  # the ij ligature
    ("ru", "ЁЛКА", "елка"),
    ("ar", "أَحْمَر", "احمر"),  # harakat and hamza forms
    ("en", "ﬁlter", "FILTER"),  # compatibility ligature
    ("en", "İstanbul", "istanbul"),  # Turkish capital dotted I: not supported, not broken
    ("ja", "ｶﾞﾗｽ", "ガラス"),  # half-width katakana with its voicing mark
    ("ja", "ＵＳＢ－Ｃ", "usb-c"),  # full-width letters and hyphen
    ("ko", "\u1112\u1161\u11ab\u1100\u116e\u11a8", "한국"),  # conjoining jamo
    ("en", "ΣΟΦΟΣ", "σοφος"),  # Greek final sigma
]


@pytest.mark.parametrize(("language", "one", "other"), SPECIAL_LETTERS)
def test_special_letters_fold_to_one_spelling(language: str, one: str, other: str) -> None:
    assert analyze(one, language) == analyze(other, language)
