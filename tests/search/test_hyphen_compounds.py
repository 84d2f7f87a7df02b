"""Spelling variants through the real thing: `shelf ingest` into a tantivy index, `shelf search`.

The catalog is the shared case 08-hyphen-compounds (hyphenated titles) plus siblings of its kind:
a joined title, letter-digit model numbers, German sharp s and a decomposed accent.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from search.cli.main import main
from search.recall import brand_key

CATALOG = Path(__file__).with_name("data") / "hyphen_compounds.jsonl"

# (query, locale, the product it must find)
VARIANTS = [
    ("tshirt", "en", "en-1"),  # joined query, hyphenated title "T-Shirt"
    ("t-shirt", "en", "en-1"),
    ("T-Shirt", "en", "en-1"),
    ("t shirt", "en", "en-1"),
    ("t-shirt", "en", "en-3"),  # hyphenated query, joined title "tshirt"
    ("t shirt", "en", "en-3"),  # spaced query, joined title
    ("wifi", "en", "en-2"),
    ("wi fi", "en", "en-2"),
    ("WIFI", "en", "en-2"),
    ("usbc", "en", "en-5"),
    ("usb c", "en", "en-5"),
    ("ebike", "de", "de-1"),
    ("e-bike", "de", "de-1"),
    ("iphone 15", "en", "en-4"),  # letter-digit boundary: "iPhone15"
    ("iphone15", "en", "en-4"),
    ("usb 3.0", "en", "en-8"),
    ("usb30", "en", "en-8"),
    ("4k", "en", "en-8"),
    ("grosse strassenkarte", "de", "de-2"),  # ß -> ss
    ("STRAẞENKARTE", "de", "de-2"),  # capital sharp s
    ("café", "fr", "fr-1"),  # composed query, decomposed title
    ("cafe", "fr", "fr-1"),
]


@pytest.fixture
def ingested(monkeypatch: pytest.MonkeyPatch, test_model_dir: Path) -> None:
    """The case catalog ingested by `shelf ingest` into this test's data dir."""
    monkeypatch.setenv("SHELF_RERANK_MODEL", str(test_model_dir))
    assert main(["ingest", str(CATALOG), "--json"]) == 0


def _found(capsys: pytest.CaptureFixture[str], query: str, locale: str) -> list[str]:
    capsys.readouterr()
    argv = ["search", query, "--locale", locale, "--no-rerank", "--k", "10", "--json"]
    assert main(argv) == 0
    return [item["product_id"] for item in json.loads(capsys.readouterr().out)["items"]]


@pytest.mark.parametrize(("query", "locale", "product_id"), VARIANTS)
def test_a_spelling_variant_of_a_title_finds_it(
    ingested: None, capsys: pytest.CaptureFixture[str], query: str, locale: str, product_id: str
) -> None:
    assert product_id in _found(capsys, query, locale)


def test_a_model_number_finds_its_model_before_its_sibling(
    ingested: None, capsys: pytest.CaptureFixture[str]
) -> None:
    for query in ("WH-1000XM4", "wh1000xm4"):
        assert _found(capsys, query, "en")[0] == "en-6"
    assert _found(capsys, "wh-1000xm5", "en")[0] == "en-7"


@pytest.mark.parametrize(
    ("one", "other"),
    [("Coca-Cola", "coca cola"), ("  ACME  Co ", "Acme-Co."), ("Wi-Fi Labs", "WIFI labs"),
     ("STRAẞE", "strasse"), ("Ｓｏｎｙ", "sony")],
)  # fmt: skip
def test_brand_spellings_share_one_key(one: str, other: str) -> None:
    assert brand_key(one) == brand_key(other)


@pytest.mark.parametrize(("one", "other"), [("Acme", "Acme Co"), ("Nestlé", "Nestle")])
def test_different_brands_keep_different_keys(one: str, other: str) -> None:
    assert brand_key(one) != brand_key(other)
