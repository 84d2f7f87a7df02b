"""The Recall seam: index products, delete them, and recall BM25 top-K candidates."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from catalog.locales import LANGUAGES, canonical_locale
from catalog.product import Product, category_levels
from search.errors import ConfigError, InvalidQuery
from search.settings import Settings


@dataclass(frozen=True)
class SearchFilters:
    """Restrictions on which products may be recalled. ``None`` means no restriction."""

    locale: str | None = None  # a locale ("de-DE") or a bare language ("de")
    category: str | None = None  # the category or any ancestor of it ("Electronics")
    min_price: float | None = None
    max_price: float | None = None
    in_stock: bool | None = None

    def __post_init__(self) -> None:
        if self.locale is not None:
            object.__setattr__(self, "locale", _locale_or_language(self.locale))
        if self.category is not None:
            # Spelled as Product.category_path spells it, so every backend matches it exactly.
            object.__setattr__(self, "category", " > ".join(category_levels(self.category)))
        for name in ("min_price", "max_price"):
            value = getattr(self, name)
            if value is not None and not value >= 0:
                raise InvalidQuery(f"{name} must be a non-negative number (got {value})")
        if (
            self.min_price is not None
            and self.max_price is not None
            and self.min_price > self.max_price
        ):
            raise InvalidQuery(f"min_price {self.min_price} is above max_price {self.max_price}")


def _locale_or_language(value: str) -> str:
    if value.strip().lower() in LANGUAGES:
        return value.strip().lower()
    try:
        return canonical_locale(value)
    except ValueError as exc:
        raise InvalidQuery(f"{exc}; or a bare language: {', '.join(LANGUAGES)}") from None


@dataclass(frozen=True)
class RecallHit:
    """One recalled candidate with its BM25 score."""

    product: Product
    bm25_score: float


class Recall(Protocol):
    """A product index that answers BM25 queries. Two engines: tantivy and Elasticsearch."""

    def index(self, products: Sequence[Product]) -> int:
        """Insert or replace (by id) the given products; return how many were written."""
        ...

    def delete(self, product_ids: Iterable[str]) -> int:
        """Remove products by id; return how many ids were asked for deletion."""
        ...

    def search(
        self, query: str, *, limit: int, filters: SearchFilters | None = None
    ) -> list[RecallHit]:
        """The top ``limit`` products for ``query`` by BM25, best first."""
        ...

    def count(self) -> int:
        """How many products the index holds."""
        ...

    def close(self) -> None:
        """Release writers and files."""
        ...


def make_recall(settings: Settings) -> Recall:
    """The Recall backend the settings name."""
    if settings.recall_backend == "embedded":
        from search.recall.embedded import EmbeddedRecall

        return EmbeddedRecall(settings.index_dir)
    raise ConfigError(
        f"SHELF_RECALL_BACKEND={settings.recall_backend} is not available in this version of "
        "Shelf yet; use SHELF_RECALL_BACKEND=embedded"
    )
