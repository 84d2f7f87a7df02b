"""Pure functions over products: the text the reranker reads, and the content hash."""

from __future__ import annotations

import hashlib
import json

from catalog.product import Product


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


# Fields added after products were first hashed: left out at their defaults, so a product that
# does not use them keeps the hash it had, and re-ingesting an old catalog rewrites nothing.
_ADDED_FIELDS: dict[str, object] = {
    "price_max": None,
    "availability": None,
    "skus": [],
    "created_at": None,
    "updated_at": None,
}


def content_hash(product: Product) -> str:
    """A stable hash of everything a product says; any change to the record changes it.

    Computed once per (frozen) product: ingestion compares it with the stored one and the index
    stores it, and it is about a tenth of the cost of indexing a product."""
    return product.content_hash


def compute_content_hash(product: Product) -> str:
    """``content_hash``'s computation (``Product.content_hash`` caches it)."""
    fields = product.model_dump(mode="json")
    for name, default in _ADDED_FIELDS.items():
        if fields[name] == default:
            del fields[name]
    canonical = json.dumps(fields, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
