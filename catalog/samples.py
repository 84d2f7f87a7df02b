"""Paths of the sample catalog and judged queries that ship with Shelf."""

from __future__ import annotations

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
SAMPLE_CATALOG = DATA_DIR / "sample_catalog.jsonl"
SAMPLE_QUERIES = DATA_DIR / "sample_queries.jsonl"
SAMPLE_JUDGMENTS = DATA_DIR / "sample_judgments.jsonl"
