from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from catalog.ingest import ingest_file
from search.errors import CatalogError
from search.recall.embedded.backend import EmbeddedRecall
from tests.conftest import make_product


def _line(**fields: object) -> str:
    return make_product(**fields).model_dump_json()


@pytest.fixture
def mixed_catalog(tmp_path: Path) -> Path:
    """Five good products and four bad lines, at known line numbers."""
    lines = [
        _line(id="good-1", title="Trail running shoes"),  # 1
        "{not json",  # 2
        _line(id="good-2", title="Running socks"),  # 3
        json.dumps({"locale": "en-US", "title": "No id", "price": 1, "currency": "USD"}),  # 4
        _line(id="good-3", title="Hydration vest"),  # 5
        "",  # 6: blank, skipped
        json.dumps({"id": "bad-price", "locale": "en-US", "title": "x", "price": -5,
                    "currency": "USD"}),  # 7
        _line(id="good-4", title="Headlamp"),  # 8
        json.dumps({"id": "bad-locale", "locale": "xx-XX", "title": "x", "price": 5,
                    "currency": "USD"}),  # 9
        _line(id="good-5", title="Trekking poles"),  # 10
    ]  # fmt: skip
    path = tmp_path / "catalog.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_bad_lines_are_rejected_with_line_and_reason_and_good_ones_indexed(
    mixed_catalog: Path, tmp_path: Path
) -> None:
    recall = EmbeddedRecall(tmp_path / "index")
    rejects = io.StringIO()
    report = ingest_file(mixed_catalog, recall, chunk_size=2, rejects_out=rejects)

    assert (report.read, report.indexed, report.rejected) == (9, 5, 4)
    reasons = {r.line_no: r.reason for r in report.rejects}
    assert sorted(reasons) == [2, 4, 7, 9]
    assert reasons[2].startswith("not valid JSON")
    assert reasons[4] == "id: required field is missing"
    assert reasons[7].startswith("price:")
    assert reasons[9].startswith("locale: unknown locale 'xx-XX'")
    assert recall.count() == 5
    assert {h.product.id for h in recall.search("running", limit=10)} == {"good-1", "good-2"}

    written = [json.loads(line) for line in rejects.getvalue().splitlines()]
    assert [w["line"] for w in written] == [2, 4, 7, 9]
    assert written[0]["record"] == "{not json"


def test_reingesting_a_file_upserts_rather_than_duplicates(
    mixed_catalog: Path, tmp_path: Path
) -> None:
    recall = EmbeddedRecall(tmp_path / "index")
    ingest_file(mixed_catalog, recall)
    ingest_file(mixed_catalog, recall)
    assert recall.count() == 5


def test_progress_is_reported_per_chunk_of_source_records(
    mixed_catalog: Path, tmp_path: Path
) -> None:
    seen: list[tuple[int, int]] = []
    ingest_file(
        mixed_catalog,
        EmbeddedRecall(tmp_path / "index"),
        chunk_size=4,
        progress=lambda r: seen.append((r.read, r.indexed)),
    )
    assert seen == [(4, 2), (8, 4), (9, 5)]


def test_unsupported_format_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "catalog.xml"
    path.write_text("<products/>")
    with pytest.raises(CatalogError, match="unsupported catalog format"):
        ingest_file(path, EmbeddedRecall(tmp_path / "index"))
