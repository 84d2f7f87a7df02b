"""Bulk ingestion behaviour on the embedded backend: formats, rejects, unchanged-skip, --full."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from catalog.ingest import ingest_file
from catalog.mapping import IDENTITY, FieldMapping
from catalog.product import Product
from search.errors import CatalogError
from search.recall import IndexFailure
from search.recall.embedded.backend import EmbeddedRecall
from tests.conftest import make_product

PRODUCTS = [
    make_product(id="p1", title="Trail running shoes", bullets=["Grippy sole", "Light"]),
    make_product(id="p2", locale="de-DE", title="Kaffeemühle aus Edelstahl", price=45.5,
                 currency="EUR", bullets=[]),
    make_product(id="p3", locale="ja-JP", title="電気ケトル", in_stock=False, price=3000,
                 currency="JPY", bullets=["1.2L"]),
]  # fmt: skip
IDS = [p.id for p in PRODUCTS]


def _records(products: Sequence[Product]) -> list[dict[str, object]]:
    unused = {"localized_titles", "skus", "price_max", "availability"}  # no list or null cells
    return [p.model_dump(mode="json", exclude=unused) for p in products]


def write_jsonl(path: Path, products: Sequence[Product]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in _records(products)), encoding="utf-8")
    return path


def _stored(recall: EmbeddedRecall) -> dict[str, str]:
    return recall.content_hashes([f"p{n}" for n in range(20)])


def test_jsonl_csv_and_parquet_with_the_same_products_index_the_same(tmp_path: Path) -> None:
    records = _records(PRODUCTS)
    jsonl = write_jsonl(tmp_path / "c.jsonl", PRODUCTS)
    with (tmp_path / "c.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows({**r, "bullets": "|".join(r["bullets"])} for r in records)  # type: ignore[arg-type]
    pq.write_table(pa.Table.from_pylist(records), tmp_path / "c.parquet")

    stored = []
    csv_mapping = FieldMapping(split={"bullets": "|"})
    for name, mapping in (("c.jsonl", IDENTITY), ("c.csv", csv_mapping), ("c.parquet", IDENTITY)):
        recall = EmbeddedRecall(tmp_path / f"index-{name}")
        report = ingest_file(tmp_path / name, recall, mapping=mapping)
        assert (report.read, report.indexed, report.rejected) == (3, 3, 0), name
        stored.append(_stored(recall))
    assert stored[0] == stored[1] == stored[2]
    assert set(stored[0]) == set(IDS)
    assert jsonl.exists()


def test_malformed_records_are_rejected_with_reasons_and_the_rest_indexed(tmp_path: Path) -> None:
    good = [json.dumps(r) for r in _records(PRODUCTS)]
    base = {"locale": "en-US", "title": "x", "price": 5, "currency": "USD"}
    lines = [
        good[0],  # 1
        "{not json",  # 2
        json.dumps(base),  # 3: no id
        json.dumps({**base, "id": "neg", "price": -1}),  # 4
        good[1],  # 5
        json.dumps({**base, "id": "loc", "locale": "xx-XX"}),  # 6
        json.dumps({**base, "id": "big", "description": "a" * 1_000_000}),  # 7
        good[2],  # 8
    ]
    path = tmp_path / "c.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rejects = io.StringIO()
    recall = EmbeddedRecall(tmp_path / "index")
    report = ingest_file(path, recall, rejects_out=rejects)

    written = [json.loads(line) for line in rejects.getvalue().splitlines()]
    reasons = {w["line"]: w["reason"] for w in written}
    assert sorted(reasons) == [2, 3, 4, 6, 7]
    assert reasons[3] == "id: required field is missing"
    assert reasons[4] == "price: must be a finite number from 0 to 1,000,000,000 (got -1)"
    assert "unknown locale 'xx-XX'" in reasons[6]
    assert reasons[7].startswith("description: String should have at most 20000 characters")
    assert written[1]["record"] == lines[2]
    assert (report.indexed, report.rejected) == (3, 5)
    assert set(_stored(recall)) == set(IDS)


def test_reingesting_an_unchanged_file_indexes_nothing(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "c.jsonl", PRODUCTS)
    recall = EmbeddedRecall(tmp_path / "index")
    ingest_file(path, recall)
    writes: list[int] = []
    original = recall.index
    recall.index = lambda products: writes.append(len(products)) or original(products)  # type: ignore[method-assign]

    report = ingest_file(path, recall)
    assert (report.indexed, report.updated, report.unchanged) == (0, 0, 3)
    assert sum(writes) == 0


def test_a_changed_product_is_counted_as_updated_and_rewritten(tmp_path: Path) -> None:
    recall = EmbeddedRecall(tmp_path / "index")
    ingest_file(write_jsonl(tmp_path / "a.jsonl", PRODUCTS), recall)
    changed = [PRODUCTS[0].model_copy(update={"price": 1.0}), *PRODUCTS[1:]]
    report = ingest_file(write_jsonl(tmp_path / "b.jsonl", changed), recall)
    assert (report.indexed, report.updated, report.unchanged) == (0, 1, 2)
    assert [h.product.price for h in recall.search("running", limit=5)] == [1.0]


def test_full_load_deletes_products_absent_from_the_new_file(tmp_path: Path) -> None:
    recall = EmbeddedRecall(tmp_path / "index")
    ingest_file(write_jsonl(tmp_path / "a.jsonl", PRODUCTS), recall)
    newer = [PRODUCTS[1], make_product(id="p9", title="Headlamp")]
    report = ingest_file(write_jsonl(tmp_path / "b.jsonl", newer), recall, full=True)
    assert (report.indexed, report.unchanged, report.deleted) == (1, 1, 2)
    assert set(_stored(recall)) == {"p2", "p9"}
    assert recall.count() == 2


def test_full_load_with_no_valid_product_changes_nothing(tmp_path: Path) -> None:
    recall = EmbeddedRecall(tmp_path / "index")
    ingest_file(write_jsonl(tmp_path / "a.jsonl", PRODUCTS), recall)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{oops\n", encoding="utf-8")
    with pytest.raises(CatalogError, match="would have emptied the catalog"):
        ingest_file(bad, recall, full=True)
    assert set(_stored(recall)) == set(IDS)


class CrashAfter:
    """A real EmbeddedRecall whose index() raises after ``calls`` successful calls."""

    def __init__(self, recall: EmbeddedRecall, calls: int) -> None:
        self.recall, self.calls = recall, calls

    def __getattr__(self, name: str) -> object:
        return getattr(self.recall, name)

    def index(self, products: Sequence[Product]) -> list[IndexFailure]:
        if self.calls == 0:
            raise KeyboardInterrupt
        self.calls -= 1
        return self.recall.index(products)


class Refusing:
    """A real EmbeddedRecall whose index refuses one product, as a cluster can refuse a document."""

    def __init__(self, recall: EmbeddedRecall, refused: str) -> None:
        self.recall, self.refused = recall, refused

    def __getattr__(self, name: str) -> object:
        return getattr(self.recall, name)

    def index(self, products: Sequence[Product]) -> list[IndexFailure]:
        kept = [p for p in products if p.id != self.refused]
        refused = [IndexFailure(p.id, "mapper_parsing_exception (injected)") for p in products
                   if p.id == self.refused]  # fmt: skip
        return self.recall.index(kept) + refused


def test_a_product_the_index_refuses_counts_only_as_a_reject(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "c.jsonl", PRODUCTS)
    recall = EmbeddedRecall(tmp_path / "index")
    ingest_file(path, recall)

    report = ingest_file(path, Refusing(recall, "p2"), full=True)  # type: ignore[arg-type]

    assert (report.indexed, report.updated, report.unchanged) == (0, 0, 2)
    assert (report.rejected, report.deleted) == (1, 1)
    assert report.rejects[0].reason.startswith("rejected by the index: mapper_parsing_exception")
    assert set(_stored(recall)) == {"p1", "p3"}


@pytest.mark.parametrize("full", [False, True], ids=["incremental", "full"])
def test_an_interrupted_ingest_rerun_ends_with_the_same_index(tmp_path: Path, full: bool) -> None:
    many = [make_product(id=f"p{n}", title=f"Product number {n}") for n in range(10)]
    path = write_jsonl(tmp_path / "c.jsonl", many)
    old = write_jsonl(tmp_path / "old.jsonl", [make_product(id="p19", title="Old product")])
    clean, recall = EmbeddedRecall(tmp_path / "clean"), EmbeddedRecall(tmp_path / "index")
    for index in (clean, recall):
        ingest_file(old, index)
    ingest_file(path, clean, chunk_size=3, full=full)

    with pytest.raises(KeyboardInterrupt):
        ingest_file(path, CrashAfter(recall, calls=2), chunk_size=3, full=full)  # type: ignore[arg-type]
    if full:  # an interrupted full load leaves the old catalog as it was
        assert set(_stored(recall)) == {"p19"}
    ingest_file(path, recall, chunk_size=3, full=full)
    assert _stored(recall) == _stored(clean)
    assert ("p19" in _stored(recall)) is not full


def test_a_record_without_locale_gets_the_detected_languages_locale(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    base = {"price": 5, "currency": "EUR"}
    path.write_text(
        json.dumps({**base, "id": "de", "title": "Elektrischer Wasserkocher aus Edelstahl mit "
                    "automatischer Abschaltung"}) + "\n"
        + json.dumps({**base, "id": "num", "title": "12345 678"}) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    recall = EmbeddedRecall(tmp_path / "index")
    report = ingest_file(path, recall)
    [hit] = recall.search("Wasserkocher", limit=5)
    assert hit.product.locale == "de-DE"
    assert [(r.line_no, r.reason.split(":")[0]) for r in report.rejects] == [(2, "locale")]
    assert "could not be detected" in report.rejects[0].reason
