"""Shared case 10: a one- or two-word query is never confined to one guessed language.

Run through ``shelf ingest`` and ``shelf search`` on a real index with real vectors, in every
recall mode, without reranking (the test model's scores are random)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from search.cli.main import main

CATALOG = Path(__file__).parents[1] / "data" / "query_language_case.jsonl"  # shared/cases/10


@pytest.fixture
def ingested(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", str(CATALOG)]) == 0
    capsys.readouterr()


def _search(capsys: pytest.CaptureFixture[str], query: str, *options: str) -> dict:  # type: ignore[type-arg]
    assert main(["search", query, "--no-rerank", "--json", *options]) == 0
    result = json.loads(capsys.readouterr().out)
    assert isinstance(result, dict)
    return result


@pytest.mark.parametrize("recall", ["bm25", "hybrid"])
def test_a_one_word_query_finds_its_products_in_every_language(
    ingested: None, capsys: pytest.CaptureFixture[str], recall: str
) -> None:
    found = {i["product_id"] for i in _search(capsys, "smartphone", "--recall", recall)["items"]}
    assert {"en-1", "es-1", "de-1"} <= found


@pytest.mark.parametrize("recall", ["dense", "hybrid"])  # BM25 alone ties on the one word
def test_camera_finds_the_english_camera_first_not_the_italian_bedroom(
    ingested: None, capsys: pytest.CaptureFixture[str], recall: str
) -> None:
    items = _search(capsys, "camera", "--recall", recall)["items"]
    assert items[0]["product_id"] == "en-3"


@pytest.mark.parametrize(
    "query", ["smartphone", "camera", "smartphone case", "128 GB", "Smartphone Gürtel"]
)
def test_short_queries_are_analysed_for_every_language_of_their_script(
    ingested: None, capsys: pytest.CaptureFixture[str], query: str
) -> None:
    result = _search(capsys, query)
    assert result["language_detected"] is False
    assert result["product_locale"] is None
