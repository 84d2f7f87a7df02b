"""Pure functions over products: the text the reranker reads, and the content hash."""

from __future__ import annotations

import hashlib

# compute_content_hash lives with Product (which caches it), so neither module imports the other
# back; it is re-exported here beside content_hash.
from catalog.product import Product, compute_content_hash

__all__ = ["compute_content_hash", "content_hash", "embed_text", "rerank_text", "text_hash"]


def rerank_text(product: Product, max_chars: int = 1200) -> str:
    """The passage a cross-encoder scores: title, brand, category, bullets, description.

    Ordered by how much each part says about what the product is, so truncation cuts the least
    useful text first.
    """
    parts = [product.title]
    if product.brand:
        parts.append(product.brand)
    if product.category:
        parts.append(product.category)
    parts.extend(bullet for bullet in product.bullets if bullet)
    if product.description:
        parts.append(product.description)
    text = "\n".join(parts)
    return text if len(text) <= max_chars else text[:max_chars].rstrip()


def embed_text(product: Product, max_chars: int = 400) -> str:
    """The passage the dense leg embeds: title, brand, category, then bullets and description,
    cut to ``max_chars``. Never empty (a product always has a title), so every product gets a
    vector whatever its analysed terms are."""
    return rerank_text(product, max_chars)


def text_hash(text: str) -> str:
    """sha256 hex of a text: what a stored vector (or a cached score) was computed from."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def content_hash(product: Product) -> str:
    """A stable hash of everything a product says; any change to the record changes it.

    Computed once per (frozen) product: ingestion compares it with the stored one and the index
    stores it, and it is about a tenth of the cost of indexing a product."""
    return product.content_hash
