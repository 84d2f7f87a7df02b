from __future__ import annotations

from pathlib import Path

import pytest

from catalog.enrich import Reject
from catalog.ingest import validate
from catalog.mapping import MAPPINGS_DIR, FieldMapping, load_mapping
from catalog.product import Product
from catalog.readers import read_records
from search.errors import CatalogError

DATA = Path(__file__).parent / "data"


def test_a_shopify_csv_export_maps_to_products_with_detected_locales() -> None:
    mapping = load_mapping(MAPPINGS_DIR / "shopify_products_csv.json")
    items = list(validate(read_records(DATA / "shopify_export.csv"), mapping))
    shoe, grinder, broken = items
    assert isinstance(shoe, Product) and isinstance(grinder, Product)
    assert (shoe.id, shoe.title, shoe.brand, shoe.price, shoe.currency, shoe.locale) == (
        "trail-shoe", "Trail running shoes", "Brookline", 89.0, "USD", "en-US")  # fmt: skip
    assert shoe.bullets == ["waterproof", "light"]
    assert (grinder.locale, grinder.category) == ("de-DE", "Küche > Kaffee")
    assert isinstance(broken, Reject) and broken.line_no == 4
    assert broken.reason.startswith("price:")


def test_a_google_merchant_feed_maps_price_currency_availability_and_language() -> None:
    mapping = load_mapping(MAPPINGS_DIR / "google_merchant.json")
    first, second = validate(read_records(DATA / "google_merchant.tsv"), mapping)
    assert isinstance(first, Product) and isinstance(second, Product)
    assert (first.price, first.currency, first.in_stock, first.locale) == (
        129.99, "USD", True, "en-US")  # fmt: skip
    assert first.bullets == ["ANC", "30 h battery"]
    assert (second.currency, second.in_stock, second.locale) == ("EUR", False, "es-ES")


def test_mapping_leaves_the_source_record_unchanged() -> None:
    record = {"name": "Mug", "bullets": "a|b"}
    mapped = FieldMapping(fields={"name": "title"}, split={"bullets": "|"}).apply(record)
    assert mapped == {"title": "Mug", "bullets": ["a", "b"]}
    assert record == {"name": "Mug", "bullets": "a|b"}


def test_a_mapping_to_an_unknown_field_is_refused_with_the_known_ones(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text('{"fields": {"name": "titel"}}', encoding="utf-8")
    with pytest.raises(CatalogError, match=r"maps to unknown product fields \['titel'\]"):
        load_mapping(path)
