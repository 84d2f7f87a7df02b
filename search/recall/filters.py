"""What restricts recall, shared by the Recall seam and the match set's vocabulary
(``search.recall.facets``): the filters, and the exact-match form of a brand. Re-exported by
``search.recall``."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from catalog.locales import canonical_locale, language_of
from catalog.product import category_levels
from catalog.word_delimiter import DELIMITER, char_kind

__all__ = ["SearchFilters", "brand_key"]


@dataclass(frozen=True)
class SearchFilters:
    """Restrictions on which products may be recalled. ``None`` means no restriction.

    ``locale`` is a BCP-47 locale ("en-GB", "zh-Hant-TW") or a bare language ("de"), kept in its
    canonical spelling; it restricts recall to products of its *language* (``language``), so a
    shopper's ``en-GB`` finds a catalog's ``en-US`` products: text is analysed per language, and
    a shop rarely lists every market's variant of a product.
    """

    locale: str | None = None
    category: str | None = None  # the category or any ancestor of it ("Electronics")
    brand: str | None = None  # exact brand, compared by ``brand_key`` (case, spaces, "-" forgiven)
    min_price: float | None = None
    max_price: float | None = None
    in_stock: bool | None = None
    price_below: float | None = None  # exclusive upper bound: a price facet bucket [lo, hi)

    def __post_init__(self) -> None:
        # Canonical spellings only: the request parser (search.pipeline.request) checked the values.
        if self.locale is not None:
            object.__setattr__(self, "locale", canonical_locale(self.locale))
        if self.category is not None:
            # Spelled as Product.category_path spells it, so every backend matches it exactly.
            object.__setattr__(self, "category", " > ".join(category_levels(self.category)))
        if self.brand is not None:
            object.__setattr__(self, "brand", brand_key(self.brand))

    @property
    def language(self) -> str | None:
        """The language products must be in (that of ``locale``), or None for any."""
        return language_of(self.locale).code if self.locale else None


@lru_cache(maxsize=8192)  # a catalog has few brands, each on many products
def brand_key(brand: str) -> str:
    """The exact-match form of a brand both backends index and filter on: NFKC, case-folded,
    only its letters (with their marks) and digits kept, the way ``catalog.word_delimiter`` joins
    a token's parts. "  ACME  Co ", "acme co" and "Acme-Co." are one brand, as are "Coca-Cola"
    and "cocacola"; "Acme" and "Acme Co" are not, nor "Nestlé" and "Nestle"."""
    folded = unicodedata.normalize("NFKC", brand).casefold()
    return "".join(ch for ch in folded if char_kind(ch) != DELIMITER)
