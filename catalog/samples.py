"""Paths of the sample catalog and judged queries that ship with Shelf."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from catalog.readers import read_jsonl

DATA_DIR = Path(__file__).resolve().parent / "data"
SAMPLE_CATALOG = DATA_DIR / "sample_catalog.jsonl"
SAMPLE_QUERIES = DATA_DIR / "sample_queries.jsonl"
SAMPLE_JUDGMENTS = DATA_DIR / "sample_judgments.jsonl"
# Cross-lingual judged queries: every relevant product is written in another language.
XLING_QUERIES = DATA_DIR / "sample_queries_xling.jsonl"
XLING_JUDGMENTS = DATA_DIR / "sample_judgments_xling.jsonl"


def _records(path: Path) -> list[dict[str, Any]]:
    return [record.data for record in read_jsonl(path) if record.data is not None]


def sample_queries() -> list[dict[str, Any]]:
    """The judged sample queries: ``query_id``, ``locale``, ``text``."""
    return _records(SAMPLE_QUERIES)


def sample_judgments() -> list[dict[str, Any]]:
    """The sample relevance judgments: ``query_id``, ``product_id``, ``grade`` (0-3)."""
    return _records(SAMPLE_JUDGMENTS)


def xling_queries() -> list[dict[str, Any]]:
    """The cross-lingual judged queries: ``query_id``, ``locale`` (the shopper's), ``text``."""
    return _records(XLING_QUERIES)


def xling_judgments() -> list[dict[str, Any]]:
    """Judgments of the cross-lingual queries (relevant products are in other languages)."""
    return _records(XLING_JUDGMENTS)
