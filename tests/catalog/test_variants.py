"""Shopify-style exports: a product's rows fold into one product; drafts are skipped, counted."""

from __future__ import annotations

import csv
import itertools
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.enrich import Reject
from catalog.ingest import validate
from catalog.mapping import MAPPINGS_DIR, FieldMapping, load_mapping
from catalog.product import Product
from catalog.readers import SourceRecord, read_records
from catalog.variants import ProductRows
from search.errors import CatalogError

SHOPIFY = load_mapping(MAPPINGS_DIR / "shopify_products_csv.json")
HEADER = (
    "Handle,Title,Body (HTML),Vendor,Type,Tags,Published,Variant SKU,Variant Price,Image Src,Status"
)


def _ingest(tmp_path: Path, rows: list[str], mapping: FieldMapping = SHOPIFY) -> tuple[
    list[Product | Reject], dict[str, int]
]:  # fmt: skip
    path = tmp_path / "products_export.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    records = ProductRows(read_records(path), mapping)
    items = list(validate(records, mapping))
    return items, dict(records.skipped)


TOTE = "tote,Canvas tote bag,<p>Sturdy canvas tote</p>,Loom,Bags,,true,TOTE-NAT,18.00,,active"

# (layout, rows, [(id, price, price_max, skus)], {skip reason: count})
LAYOUTS = [
    ("one row, one variant", [TOTE], [("tote", 18.0, None, ["TOTE-NAT"])], {}),
    ("variants with different prices",
     [TOTE, "tote,,,,,,,TOTE-BLK,20.00,,", "tote,,,,,,,TOTE-NVY,24.50,,"],
     [("tote", 18.0, 24.5, ["TOTE-NAT", "TOTE-BLK", "TOTE-NVY"])], {}),
    ("variants with one price", [TOTE, "tote,,,,,,,TOTE-BLK,18.00,,"],
     [("tote", 18.0, None, ["TOTE-NAT", "TOTE-BLK"])], {}),
    ("cheapest variant last", [TOTE, "tote,,,,,,,TOTE-XS,9.00,,"],
     [("tote", 9.0, 18.0, ["TOTE-NAT", "TOTE-XS"])], {}),
    ("image-only rows between variants",
     [TOTE, "tote,,,,,,,,,https://x/1.jpg,", "tote,,,,,,,TOTE-BLK,20.00,https://x/2.jpg,"],
     [("tote", 18.0, 20.0, ["TOTE-NAT", "TOTE-BLK"])], {}),
    ("product without SKUs", ["mug,Enamel mug,,Loom,Kitchen,,true,,12.00,,active",
                              "mug,,,,,,,,14.00,,"], [("mug", 12.0, 14.0, [])], {}),
    ("a handle whose first row is draft",
     ["mug,Enamel mug,,Loom,Kitchen,,true,MUG-1,12.00,,draft", "mug,,,,,,,MUG-2,14.00,,", TOTE],
     [("tote", 18.0, None, ["TOTE-NAT"])], {"Status is draft": 1}),
    ("archived and unpublished products",
     ["a,Old mug,,Loom,Kitchen,,true,A-1,5.00,,archived", "a,,,,,,,A-2,6.00,,",
      "b,New mug,,Loom,Kitchen,,FALSE,B-1,7.00,,active", "c,Other mug,,Loom,Kitchen,,false,C,8,,",
      TOTE], [("tote", 18.0, None, ["TOTE-NAT"])],
     {"Status is archived": 1, "Published is false": 2}),
    ("two products back to back",
     [TOTE, "tote,,,,,,,TOTE-BLK,20.00,,",
      "cup,Steel cup for hot coffee and tea,,Loom,Kitchen,,true,CUP-1,7.00,,active"],
     [("tote", 18.0, 20.0, ["TOTE-NAT", "TOTE-BLK"]), ("cup", 7.0, None, ["CUP-1"])], {}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("rows", "products", "skipped"), [case[1:] for case in LAYOUTS], ids=[c[0] for c in LAYOUTS]
)
def test_a_products_rows_fold_into_one_product_with_its_price_range_and_skus(
    tmp_path: Path,
    rows: list[str],
    products: list[tuple[str, float, float | None, list[str]]],
    skipped: dict[str, int],
) -> None:
    items, skipped_by_reason = _ingest(tmp_path, rows)
    assert not [item for item in items if isinstance(item, Reject)]
    assert [(p.id, p.price, p.price_max, p.skus) for p in items if isinstance(p, Product)] == (
        products
    )
    assert skipped_by_reason == skipped


def test_skipped_products_are_indexed_when_the_skip_rules_are_dropped(tmp_path: Path) -> None:
    rows = ["mug,Enamel mug,,Loom,Kitchen,,false,MUG-1,12.00,,draft", "mug,,,,,,,MUG-2,14.00,,"]
    items, skipped = _ingest(tmp_path, rows, SHOPIFY.including_skipped())
    assert [(p.id, p.skus) for p in items if isinstance(p, Product)] == [
        ("mug", ["MUG-1", "MUG-2"])
    ]
    assert skipped == {}


def test_a_bad_row_inside_a_product_is_rejected_alone_with_its_line(tmp_path: Path) -> None:
    items, _ = _ingest(tmp_path, [TOTE, "tote,,,,,too,few,cells", "tote,,,,,,,TOTE-BLK,20.00,,"])
    bad, tote = items
    assert isinstance(bad, Reject) and bad.line_no == 3 and "cells" in bad.reason
    assert isinstance(tote, Product) and tote.skus == ["TOTE-NAT", "TOTE-BLK"]


def test_a_rejected_product_names_every_line_of_its_rows(tmp_path: Path) -> None:
    items, _ = _ingest(tmp_path, [TOTE, "tote,,,,,,,TOTE-BLK,free,,"])
    (reject,) = items
    assert isinstance(reject, Reject) and reject.line_no == 2
    assert reject.reason.startswith("price: ")
    assert reject.reason.endswith("(the product's rows are on lines 2, 3)")
    assert isinstance(reject.raw, dict) and reject.raw["lines"] == [2, 3]


@pytest.mark.parametrize(
    "mapping",
    [SHOPIFY, load_mapping(Path(__file__).parent / "data/cases/11-shopify-variant-rows/"
                           "mapping_as_shipped.json")],
    ids=["shipped mapping", "mapping without group_by"],
)  # fmt: skip
def test_a_variant_row_without_its_product_row_is_rejected_for_its_title(
    tmp_path: Path, mapping: FieldMapping
) -> None:
    items, _ = _ingest(tmp_path, [TOTE, "bag,,,,,,,BAG-BLK,20.00,,"], mapping)
    reject = items[-1]
    assert isinstance(reject, Reject) and reject.line_no == 3
    assert reject.reason == "title: required field is missing"


def test_products_are_folded_as_rows_stream_in_not_after_the_whole_file() -> None:
    def endless() -> Iterator[SourceRecord]:
        for n in itertools.count():
            for variant in range(3):
                data = {"Handle": f"h{n}", "Variant SKU": f"S{n}-{variant}", "Variant Price": "1"}
                if variant == 0:
                    data["Title"] = f"Product {n}"
                yield SourceRecord(3 * n + variant + 2, data, data)

    folded = list(itertools.islice(ProductRows(endless(), SHOPIFY), 3))
    assert [r.data["Variant SKU"] for r in folded if r.data] == [
        [f"S{n}-{v}" for v in range(3)] for n in range(3)
    ]


def test_a_product_past_the_row_limit_has_its_extra_rows_rejected() -> None:
    rows = [SourceRecord(n, {}, {"Handle": "h", "Title": "T", "Variant Price": "1"})
            for n in range(2, 8)]  # fmt: skip
    records = list(ProductRows(rows, SHOPIFY, max_rows=4))
    assert [r.line_no for r in records if r.data is None] == [6, 7]
    assert "more than 4 rows" in (records[0].error or "")


def test_a_product_past_the_byte_limit_has_its_extra_rows_rejected() -> None:
    data = {"Handle": "h", "Title": "T", "Variant Price": "1"}
    rows = [SourceRecord(n, {}, data, None, 400) for n in range(2, 8)]
    records = list(ProductRows(rows, SHOPIFY, max_bytes=1_000))
    assert [r.line_no for r in records if r.data is None] == [4, 5, 6, 7]
    assert "'h' has rows of more than 1,000 bytes" in (records[0].error or "")
    assert [r.size for r in records if r.data is not None] == [800]


@pytest.mark.parametrize(
    ("mapping", "message"),
    [({"fields": {"Variant Price": "price"}, "variant_columns": ["Variant Price"]},
      "variant_columns needs group_by"),
     ({"group_by": "Handle", "variant_columns": ["Title"], "fields": {"Title": "title"}},
      r"variant_columns \['Title -> title'\] map to fields that cannot hold several")],
)  # fmt: skip
def test_a_mapping_with_unfoldable_variant_columns_is_refused(
    tmp_path: Path, mapping: dict[str, object], message: str
) -> None:
    import json

    path = tmp_path / "m.json"
    path.write_text(json.dumps(mapping), encoding="utf-8")
    with pytest.raises(CatalogError, match=message):
        load_mapping(path)


@st.composite
def shopify_exports(draw: st.DrawFn) -> tuple[list[list[str]], list[dict[str, object]]]:
    """Rows of a Shopify-like export (handles consecutive, variant and image rows, some drafts,
    some unreadable rows anywhere) and what each product should become."""
    rows: list[list[str]] = []
    expected: list[dict[str, object]] = []
    for n in range(draw(st.integers(1, 6))):
        prices = draw(st.lists(st.integers(1, 500), min_size=1, max_size=4))
        status = draw(st.sampled_from(["active", "active", "draft", "archived"]))
        published = draw(st.sampled_from(["true", "TRUE", "false"]))
        handle = f"h{n}"
        start = len(rows)
        for v, price in enumerate(prices):
            first = v == 0
            rows.append([handle, f"Product {n}" if first else "", published if first else "",
                         f"S{n}-{v}", f"{price}.00", status if first else "",
                         "en-US" if first else ""])  # fmt: skip
            if draw(st.booleans()):
                rows.append([handle, "", "", "", "", "", ""])  # an image-only row
        for _ in range(draw(st.integers(0, 2))):  # unreadable rows inside or after the product
            rows.insert(draw(st.integers(start + 1, len(rows))), ["bad", "row"])
        skip = (f"Status is {status}" if status != "active"
                else "Published is false" if published == "false" else None)  # fmt: skip
        expected.append({"id": handle, "price": min(prices), "skip": skip,
                         "price_max": max(prices) if max(prices) > min(prices) else None,
                         "skus": [f"S{n}-{v}" for v in range(len(prices))]})  # fmt: skip
    return rows, expected


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(export=shopify_exports())
def test_any_export_layout_folds_every_product_once_and_rejects_only_bad_rows(
    tmp_path: Path, export: tuple[list[list[str]], list[dict[str, object]]]
) -> None:
    rows, expected = export
    path = tmp_path / "export.csv"
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["Handle", "Title", "Published", "Variant SKU", "Variant Price", "Status",
                         "locale"])  # fmt: skip
        writer.writerows(rows)
    records = ProductRows(read_records(path), SHOPIFY)
    items = list(validate(records, SHOPIFY))
    products = [p for p in items if isinstance(p, Product)]
    assert [(p.id, p.price, p.price_max, p.skus) for p in products] == [
        (e["id"], e["price"], e["price_max"], e["skus"]) for e in expected if e["skip"] is None
    ]
    bad_lines = [n + 2 for n, row in enumerate(rows) if row == ["bad", "row"]]
    assert sorted(r.line_no for r in items if isinstance(r, Reject)) == bad_lines
    assert dict(records.skipped) == dict(Counter(e["skip"] for e in expected if e["skip"]))
