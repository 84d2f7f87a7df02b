"""Catalog side of Shelf: product records, readers, text analysis and bulk ingestion."""

from catalog.product import Product, describe_validation_error
from catalog.text import content_hash, rerank_text

__all__ = ["Product", "content_hash", "describe_validation_error", "rerank_text"]
