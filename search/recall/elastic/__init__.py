"""Recall on Elasticsearch (production, distributed)."""
