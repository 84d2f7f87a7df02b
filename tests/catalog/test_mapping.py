from __future__ import annotations

from pathlib import Path

import pytest

from catalog.enrich import Reject
from catalog.ingest import validate
from catalog.mapping import MAPPINGS_DIR, FieldMapping, decimal_comma_hint, load_mapping
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


@pytest.mark.parametrize(
    ("written", "price"),
    [
        ("24,99", 24.99),
        ("1.234,56", 1234.56),
        ("1 234,56", 1234.56),
        ("1\u00a0234,5", 1234.5),
        ("1.234.567", 1234567.0),
        ("24", 24.0),
        ("24,99 EUR", 24.99),
    ],
)
def test_a_decimal_comma_mapping_reads_european_prices(written: str, price: float) -> None:
    mapping = FieldMapping(decimal_comma=True, price_with_currency=["price"])
    fields = mapping.apply({"id": "a", "title": "Mug", "price": written, "currency": "EUR"})
    assert Product.model_validate({**fields, "locale": "de-DE"}).price == price


@pytest.mark.parametrize("written", ["24,99", "1.234,56", "0,5"])
def test_a_decimal_comma_without_the_option_is_named_with_what_to_do(written: str) -> None:
    hint = decimal_comma_hint({"price": written})
    assert hint == (
        f"price {written!r} has a decimal comma: pass --decimal-comma or set "
        '"decimal_comma": true in the mapping'
    )


@pytest.mark.parametrize("written", ["24.99", "twelve", "12,5,3", ""])
def test_other_prices_get_no_decimal_comma_hint(written: str) -> None:
    assert decimal_comma_hint({"price": written}) is None


@pytest.mark.parametrize(
    ("created", "expected"),
    [
        ("2024-03-01T10:00:00Z", "2024-03-01T10:00:00+00:00"),
        ("2024-03-01 12:00:00+02:00", "2024-03-01T10:00:00+00:00"),
        ("2024-03-01T10:00:00", "2024-03-01T10:00:00+00:00"),  # no zone: UTC
        ("", None),
    ],
)
def test_shopify_created_and_updated_at_columns_become_utc_times(
    tmp_path: Path, created: str, expected: str | None
) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        "Handle,Title,Body (HTML),Vendor,Variant Price,Created At,Updated At\n"
        f"mug,Red mug,A sturdy red mug for coffee and tea,Acme,5.00,{created},{created}\n",
        encoding="utf-8",
    )
    mapping = load_mapping(MAPPINGS_DIR / "shopify_products_csv.json")
    (mug,) = validate(read_records(path), mapping)
    assert isinstance(mug, Product)
    got = None if mug.created_at is None else mug.created_at.isoformat()
    assert got == expected and mug.updated_at == mug.created_at
