"""Locales are BCP-47 tags of the languages Shelf analyses: accepted in every well-formed
spelling, canonical once stored, refused with the supported languages otherwise."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog.analysis import analyze
from catalog.locales import LANGUAGES, canonical_locale, language_of
from catalog.product import Product
from tests.conftest import make_product

# A region for each continent and UN M49 area codes: "any region of a supported language".
REGIONS = [
    "US",
    "GB",
    "CH",
    "AT",
    "CA",
    "BE",
    "MX",
    "AR",
    "BR",
    "PT",
    "TW",
    "HK",
    "SG",
    "JP",
    "KR",
    "SA",
    "EG",
    "AE",
    "MA",
    "RU",
    "BY",
    "KZ",
    "NL",
    "SR",
    "AU",
    "IN",
    "419",
    "001",
]
SCRIPTS = {"zh": ["Hans", "Hant"], "ja": ["Jpan"], "ko": ["Kore"], "ar": ["Arab"],
           "ru": ["Cyrl"]}  # fmt: skip
UNSUPPORTED = ["sv-SE", "fi", "pl-PL", "tr-TR", "he-IL", "iw", "hi-IN", "yue-HK", "zh-yue",
               "sr-Latn-RS", "uk-UA", "und", "x-shop"]  # fmt: skip
MALFORMED = ["", " ", "en--US", "en-", "-US", "english", "en_US_", "de-DE-", "e", "123",
             "en-US-x", "zh-Hant-TW-TW-TW", "en US", "xx-YY"]  # fmt: skip


@pytest.mark.parametrize(
    ("given_tag", "canonical"),
    [("zh-Hant-TW", "zh-Hant-TW"), ("zh-hant-tw", "zh-Hant-TW"), ("zh_Hant_TW", "zh-Hant-TW"),
     ("zh-Hans-CN", "zh-Hans-CN"), ("de-CH", "de-CH"), ("de_ch", "de-CH"), ("DE-ch", "de-CH"),
     ("fr-CA", "fr-CA"), ("en-GB", "en-GB"), ("pt-PT", "pt-PT"), ("es-419", "es-419"),
     ("en-Latn-US", "en-US"), ("cmn-Hant-TW", "zh-Hant-TW"), ("de", "de"), (" ja-JP ", "ja-JP")],
)  # fmt: skip
def test_bcp47_spellings_of_a_supported_language_have_one_canonical_form(
    given_tag: str, canonical: str
) -> None:
    assert canonical_locale(given_tag) == canonical
    assert canonical_locale(canonical) == canonical  # canonical is stable: stored as it is


@given(
    language=st.sampled_from(sorted(LANGUAGES)),
    region=st.sampled_from(REGIONS) | st.none(),
    scripted=st.booleans(),
    spelling=st.sampled_from([str, str.lower, str.upper]),
    separator=st.sampled_from(["-", "_"]),
)
def test_any_region_and_script_of_a_supported_language_is_analysed_as_that_language(
    language: str, region: str | None, scripted: bool, spelling: object, separator: str
) -> None:
    script = SCRIPTS.get(language, ["Latn"])[0] if scripted else None
    tag = separator.join(part for part in (language, script, region) if part)
    locale = canonical_locale(spelling(tag))  # type: ignore[operator]
    assert language_of(locale).code == language
    assert locale.split("-")[0] == language
    assert make_product(locale=tag, title="Xylofon").locale == locale


@pytest.mark.parametrize("tag", UNSUPPORTED)
def test_a_locale_of_a_language_shelf_cannot_analyse_is_refused_with_the_supported_ones(
    tag: str,
) -> None:
    with pytest.raises(ValueError, match=r"[Ss]upported languages?: zh \(Chinese\), ja") as info:
        canonical_locale(tag)
    assert "fr (French)" in str(info.value) and "nl (Dutch)" in str(info.value)


@pytest.mark.parametrize("tag", MALFORMED)
def test_a_malformed_tag_is_refused_as_not_bcp47(tag: str) -> None:
    with pytest.raises(ValueError, match=f"unknown locale {tag!r}: not a valid BCP-47 tag"):
        canonical_locale(tag)


@pytest.mark.parametrize("tag", ["ja-Latn", "ru-Latn", "en-Cyrl-US", "zh-Arab"])
def test_a_script_the_language_is_not_analysed_in_is_refused(tag: str) -> None:
    with pytest.raises(ValueError, match="Shelf analyses .* text written in"):
        canonical_locale(tag)


def test_a_traditional_chinese_taiwan_product_is_analysed_as_chinese() -> None:
    product = Product.model_validate(
        {"id": "tw-1", "locale": "zh-Hant-TW", "title": "手機殼 透明防摔", "price": 299,
         "currency": "TWD"}
    )  # fmt: skip
    assert product.locale == "zh-Hant-TW"
    assert analyze(product.title, product.locale) == analyze(product.title, "zh")
