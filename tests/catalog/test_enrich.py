"""From a source record to a product: Merchant availability in every spelling, and reject reasons
that name the real fault."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog.enrich import Reject, to_product
from catalog.ingest import validate
from catalog.mapping import MAPPINGS_DIR, load_mapping
from catalog.product import Product
from catalog.readers import SourceRecord, read_records

MERCHANT = load_mapping(MAPPINGS_DIR / "google_merchant.json")

# Every availability value Google Merchant Center documents, in the spellings feeds use (the
# current underscore form, the older spaced form, case variants, schema.org's ItemAvailability).
AVAILABILITY = [
    ("in_stock", "in_stock", True), ("in stock", "in_stock", True), ("In Stock", "in_stock", True),
    ("IN_STOCK", "in_stock", True), ("in-stock", "in_stock", True), ("InStock", "in_stock", True),
    ("https://schema.org/InStock", "in_stock", True),
    ("out_of_stock", "out_of_stock", False), ("out of stock", "out_of_stock", False),
    ("Out Of Stock", "out_of_stock", False), ("OutOfStock", "out_of_stock", False),
    ("preorder", "preorder", False), ("Preorder", "preorder", False),
    ("pre-order", "preorder", False), ("PreOrder", "preorder", False),
    ("backorder", "backorder", False), ("BACKORDER", "backorder", False),
    ("back order", "backorder", False), ("BackOrder", "backorder", False),
]  # fmt: skip


@pytest.mark.parametrize(("spelled", "availability", "in_stock"), AVAILABILITY)
def test_every_merchant_availability_spelling_is_understood(
    tmp_path: Path, spelled: str, availability: str, in_stock: bool
) -> None:
    feed = tmp_path / "feed.tsv"
    feed.write_text(
        "id\ttitle\tprice\tavailability\tcontent_language\n"
        f"sku-1\tCold brew bottle\t14.00 USD\t{spelled}\ten\n",
        encoding="utf-8",
    )
    (product,) = validate(read_records(feed), MERCHANT)
    assert isinstance(product, Product), product
    assert (product.availability, product.in_stock) == (availability, in_stock)


@pytest.mark.parametrize("spelled", ["soon", "limited", "available", "yes", "instock soon"])
def test_an_unknown_availability_is_rejected_naming_the_known_ones(
    tmp_path: Path, spelled: str
) -> None:
    feed = tmp_path / "feed.tsv"
    feed.write_text(
        f"id\ttitle\tprice\tavailability\tcontent_language\nsku-1\tBottle\t14 USD\t{spelled}\ten\n",
        encoding="utf-8",
    )
    (reject,) = validate(read_records(feed), MERCHANT)
    assert isinstance(reject, Reject)
    assert reject.reason.startswith(
        "availability: must be one of in_stock, out_of_stock, preorder, backorder"
    )


def test_availability_contradicting_in_stock_is_rejected() -> None:
    record = {"id": "p", "locale": "en-US", "title": "Bottle", "price": 1, "currency": "USD",
              "in_stock": True, "availability": "out of stock"}  # fmt: skip
    reject = to_product(SourceRecord(1, "", record))
    assert isinstance(reject, Reject)
    assert "contradicts availability 'out_of_stock'" in reject.reason


# A record short of one required field at a time. The locale is left out of every record, as
# Shopify exports leave it out: it is detected from the title, which these titles allow.
VALID = {"id": "p-1", "title": "Stainless steel water bottle for hiking and cycling",
         "price": 19.99, "currency": "USD"}  # fmt: skip
FAULTS = [
    ("id", {"id": None}, "id: required field is missing"),
    ("id", {"id": ""}, "id: String should have at least 1 character"),
    ("title", {"title": None}, "title: required field is missing"),
    ("title", {"title": "  "}, "title: String should have at least 1 character"),
    ("title", {"title": "<p></p>"}, "title: String should have at least 1 character"),
    ("price", {"price": None}, "price: required field is missing"),
    ("price", {"price": "free"}, "price: Input should be a valid number"),
    ("currency", {"currency": None}, "currency: required field is missing"),
    ("currency", {"currency": "dollars"}, "currency: String should match pattern"),
    ("locale", {"title": "BX-200"}, "locale: missing, and the language of the title"),
    ("locale", {"locale": "sv-SE"}, "locale: unsupported locale 'sv-SE'"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("field", "change", "reason"), FAULTS, ids=[f"{f}-{i}" for i, (f, _, _) in enumerate(FAULTS)]
)
def test_a_reject_reason_names_the_faulty_field_and_no_other(
    field: str, change: dict[str, object], reason: str
) -> None:
    record = {k: v for k, v in {**VALID, **change}.items() if v is not None}
    reject = to_product(SourceRecord(7, "", record))
    assert isinstance(reject, Reject)
    assert reject.reason.startswith(reason)
    named = {part.split(":")[0] for part in reject.reason.split("; ")}
    assert named == {field}


def test_each_of_several_faults_is_named_and_an_undetected_locale_comes_last() -> None:
    record = {"id": "p-1", "title": "BX-200", "price": "free"}
    reject = to_product(SourceRecord(1, "", record))
    assert isinstance(reject, Reject)
    assert [part.split(":")[0] for part in reject.reason.split("; ")] == [
        "price", "currency", "locale"]  # fmt: skip
