"""The ranked item: one product in an answer, and the one factory that builds it.

Every stage that places a product (the reranked head, the rest of the match set, a sorted page,
a pinned product) calls ``make_item``, so an item's scores are rounded the same way wherever it
comes from.
"""

from __future__ import annotations

from dataclasses import dataclass

from catalog.product import Product

SCORE_DIGITS = 6  # recall scores and cosines are reported to this many decimals


@dataclass(frozen=True)
class SearchItem:
    """One product in a ranked answer."""

    product_id: str  # the catalog's id
    title: str  # in the product's own language
    locale: str  # the product's BCP-47 locale (de-DE)
    price: float  # in units of currency, not cents
    currency: str  # ISO 4217 (EUR)
    in_stock: bool
    position: int  # 1-based over the whole answer, not the page
    bm25_score: float  # 0.0 when the BM25 leg did not find it
    rerank_score: float | None
    final_score: float | None = None  # what the order follows (None: recall order)
    dense_score: float | None = None  # cosine similarity to the query vector (dense leg)
    bm25_rank: int | None = None  # 1-based rank in the BM25 leg; None: that leg missed it
    dense_rank: int | None = None  # 1-based rank in the dense leg; None: that leg missed it
    pinned: bool = False  # placed at its position by a merchandising rule
    rule: str | None = None  # the merchandising rule that pinned or boosted it
    boost: float | None = None  # the factor rules multiplied final_score by (None: not boosted)


def make_item(
    product: Product,
    position: int,
    *,
    bm25_score: float = 0.0,
    rerank_score: float | None = None,
    final_score: float | None = None,
    dense_score: float | None = None,
    bm25_rank: int | None = None,
    dense_rank: int | None = None,
    pinned: bool = False,
) -> SearchItem:
    """``product`` at 1-based ``position``: its BM25 score and cosine rounded to
    ``SCORE_DIGITS`` decimals; the model's and the final score kept as given (rules compare
    them to tell a model-ordered item)."""
    dense = None if dense_score is None else round(dense_score, SCORE_DIGITS)
    # Positional, in SearchItem's field order: the product's own fields, then the ranking's.
    return SearchItem(
        product.id, product.title, product.locale, product.price, product.currency,
        product.in_stock, position, round(bm25_score, SCORE_DIGITS), rerank_score, final_score,
        dense, bm25_rank, dense_rank, pinned,
    )  # fmt: skip
