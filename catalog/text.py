"""Pure functions over products: the text the reranker reads, and the content hash."""

from __future__ import annotations

import hashlib
import threading

# compute_content_hash lives with Product (which caches it), so neither module imports the other
# back; it is re-exported here beside content_hash.
from catalog.product import Product, compute_content_hash

__all__ = ["compute_content_hash", "content_hash", "embed_text", "rerank_text", "text_hash"]


# Rerank texts kept by (content hash, length): a warm search asks for the same candidates' texts
# again and again. Keyed by the content hash, so a product whose text changes gets its new text
# (model_copy drops the cached hash). The same str object comes back, so the score key built
# from it (``search.rerank.cache.score_key``) finds its own memo without rehashing the text.
RERANK_TEXTS_KEPT = 16_384  # about 3 MB at the sample catalog's 140 characters a text
_rerank_texts: dict[tuple[str, int], str] = {}
_rerank_texts_lock = threading.Lock()


def rerank_text(product: Product, max_chars: int = 1200) -> str:
    """The passage a cross-encoder scores: title, brand, category, bullets, description.

    Ordered by how much each part says about what the product is, so truncation cuts the least
    useful text first. Memoised per content hash once the product has computed it (hashing
    only for this would cost more than building the text).
    """
    known = product.__dict__.get("content_hash")  # Product.content_hash, once computed
    if known is None:
        return _rerank_text(product, max_chars)
    key = (known, max_chars)
    text = _rerank_texts.get(key)
    if text is None:
        text = _rerank_text(product, max_chars)
        with _rerank_texts_lock:
            if len(_rerank_texts) >= RERANK_TEXTS_KEPT:
                del _rerank_texts[next(iter(_rerank_texts))]  # the oldest
            _rerank_texts[key] = text
    return text


def _rerank_text(product: Product, max_chars: int) -> str:
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
