"""A rule of one language applies only when the query's language is known (README,
"Merchandising rules"): stated, the product_locale filter's, surely detected, or the only one of
its script; never for a query analysed as several plausible languages or, too short to detect,
as every candidate. On the sample catalog's real index (English, German, Spanish and more)."""

from __future__ import annotations

import datetime as dt

import pytest

from search.merchandising.apply import RuleSet
from search.merchandising.model import Rule
from search.pipeline.request import search_request
from search.pipeline.service import SearchService
from search.query.languages import known_languages
from search.recall.embedded.backend import EmbeddedRecall

NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
SURE_EN = "wireless earbuds with noise cancelling for running"
SURE_ES = "earbuds kabellos inalámbricos"  # lingua is sure: Spanish
PLAUSIBLE = "true wireless earbuds kopfhörer"  # German and English plausible


@pytest.fixture(scope="module")
def plain(sample_index: EmbeddedRecall) -> SearchService:
    return SearchService(sample_index, None)


def rule(language: str | None, phrase: str) -> Rule:
    return Rule.model_validate(
        {"id": "r1", "condition": {"match": "contains", "phrase": phrase, "language": language},
         "actions": {"hide": ["en-us-0006"]}, "created_at": NOW, "updated_at": NOW}
    )  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "query", "lang", "product_locale", "rule_language", "phrase", "applies"),
    [
        ("stated", "earbuds", "en", None, "en", "earbuds", True),
        ("stated other", "earbuds", "de-DE", None, "en", "earbuds", False),
        ("locale filter", "earbuds", None, "en-GB", "en", "earbuds", True),
        ("locale filter other", "earbuds", None, "de", "en", "earbuds", False),
        ("detected sure", SURE_EN, None, None, "en", "earbuds", True),
        ("detected sure other", SURE_ES, None, None, "en", "earbuds", False),
        ("several plausible", PLAUSIBLE, None, None, "en", "earbuds", False),
        ("none: short, every candidate", "earbuds", None, None, "en", "earbuds", False),
        ("none: every language rule", "earbuds", None, None, None, "earbuds", True),
        ("only language of its script", "наушники", None, None, "ru", "наушники", True),
        ("CJK: zh, ja or ko", "耳机", None, None, "zh", "耳机", False),
    ],
)
def test_a_rule_of_one_language_applies_only_when_the_query_language_is_known(
    plain: SearchService, kind: str, query: str, lang: str | None,
    product_locale: str | None, rule_language: str | None, phrase: str, applies: bool,
) -> None:  # fmt: skip
    ruled = plain.with_config(rules=lambda: RuleSet([rule(rule_language, phrase)]))
    asked = search_request(query, rerank=False, lang=lang, product_locale=product_locale)
    result = ruled.search(asked, now=NOW)
    assert (result.rules == ("r1",)) is applies, kind
    assert result.language_detected is kind.startswith("detected sure")  # as meant


@pytest.mark.parametrize(
    ("stated", "analyze_as", "detected", "filter_language", "text", "known"),
    [
        (True, ("de",), False, None, "handy", {"de"}),  # stated
        (True, ("de",), False, "en", "handy", {"de", "en"}),  # stated and the filter's
        (True, ("en",), False, None, "наушники", {"en"}),  # stated beats the script
        (False, None, False, "es", "movil", {"es"}),  # the locale filter alone
        (False, ("en",), True, None, "a sure english query", {"en"}),  # detected, sure
        (False, ("de", "en"), False, None, "wireless kopfhörer set", set()),  # plausible
        (False, ("en", "de", "es"), False, None, "earbuds", set()),  # short: every candidate
        (False, ("en",), False, None, "earbuds", set()),  # one held candidate is no detection
        (False, None, False, None, "earbuds", set()),  # none held
        (False, ("ar",), False, None, "سماعات", {"ar"}),  # the only language of its script
        (False, ("zh", "ja", "ko"), False, None, "耳机", set()),  # CJK: three languages
    ],
)
def test_known_languages(
    stated: bool, analyze_as: tuple[str, ...] | None, detected: bool,
    filter_language: str | None, text: str, known: set[str],
) -> None:  # fmt: skip
    assert known_languages(text, stated=stated, analyze_as=analyze_as, detected=detected,
                           filter_language=filter_language) == known  # fmt: skip
