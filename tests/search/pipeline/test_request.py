"""The request parser checks every search request field (issue 23: one place validates)."""

from __future__ import annotations

import pytest

from search.errors import InvalidQuery
from search.pipeline.request import search_request
from search.recall import SearchFilters


def test_bad_filters_are_refused_with_the_reason() -> None:
    """The request parser checks the filters (search.pipeline.request); SearchFilters only keeps
    their canonical spellings."""
    with pytest.raises(InvalidQuery, match="min_price 10.0 is above max_price 5.0"):
        search_request("q", min_price=10.0, max_price=5.0)
    with pytest.raises(InvalidQuery, match="unknown locale 'xx-XX'"):
        search_request("q", product_locale="xx-XX")
    with pytest.raises(InvalidQuery, match=r"unknown locale 'xx'.*language: zh \(Chinese\), ja"):
        search_request("q", product_locale="xx")
    with pytest.raises(InvalidQuery, match=r"cannot analyse Swedish \(sv\)\. Supported languages"):
        search_request("q", product_locale="sv-SE")
    assert SearchFilters(locale="DE").locale == "de"
    assert SearchFilters(locale="de_de").locale == "de-DE"
    assert SearchFilters(locale="zh_hant_tw").locale == "zh-Hant-TW"
