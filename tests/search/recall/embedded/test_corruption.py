"""The corruption suite (issue 27's acceptance): every kind of file Shelf keeps in the embedded
index, garbled (8 KB of random bytes in the middle), truncated, or (vectors) NaN-filled, on a copy
of a real index of the sample catalog with its vectors. Each case ends in a clear error that
``/readyz``'s index check (``count``) repeats, or in the intact copy's answers: never different
answers silently."""

from __future__ import annotations

import json
import random
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from search.cli.main import main
from search.errors import IndexCorrupt, InvalidVector, RecallUnavailable
from search.recall import SearchFilters, StoredVector
from search.recall.embedded.backend import EmbeddedRecall
from search.recall.embedded.integrity import check_index
from search.recall.embedded.vectors import VECTOR_DTYPE
from search.recall.facets import FACETS, MatchQuery
from search.settings import get_settings
from tests.conftest import make_product

QUERIES = ("water bottle", "Trinkflasche", "chaussures de course", "phone case", "zzqx")
EDGES = [10.0, 50.0, 100.0]
KINDS = ("term", "idx", "pos", "fast", "fieldnorm", "store", "del", "meta.json",
         ".managed.json", "shelf-index.json", "vectors.db")  # fmt: skip


def _file_of(index_dir: Path, kind: str) -> Path:
    if "." in kind:
        return index_dir / kind
    (found,) = [p for p in index_dir.iterdir() if p.suffix == f".{kind}"]
    return found


def garble(path: Path) -> None:
    """8 KB of random bytes in the middle (the middle half of a smaller file)."""
    data = bytearray(path.read_bytes())
    n = min(8192, len(data) // 2)
    at = (len(data) - n) // 2
    data[at : at + n] = random.Random(path.name).randbytes(n)
    path.write_bytes(bytes(data))


def truncate(path: Path) -> None:
    """Cut to half its size."""
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def nan_fill(path: Path) -> None:
    """Every third vector row's numbers overwritten with NaN (the rows' checksums untouched)."""
    db = sqlite3.connect(path)
    rows = db.execute("SELECT rowid, length(vector) FROM vectors ORDER BY rowid").fetchall()
    nan = np.full(rows[0][1] // VECTOR_DTYPE.itemsize, np.nan, VECTOR_DTYPE).tobytes()
    db.executemany("UPDATE vectors SET vector = ? WHERE rowid = ?",
                   [(nan, rowid) for rowid, _n in rows[::3]])  # fmt: skip
    db.commit()
    db.close()


CORRUPTIONS: dict[str, Callable[[Path], None]] = {"garble": garble, "truncate": truncate}
CASES = [(kind, how) for kind in KINDS for how in CORRUPTIONS] + [("vectors.db", "nan-fill")]


def _query_vectors(index_dir: Path) -> list[list[float]]:
    db = sqlite3.connect(index_dir / "vectors.db")
    blobs = db.execute("SELECT vector FROM vectors ORDER BY text_hash LIMIT 2").fetchall()
    db.close()
    return [np.frombuffer(b, VECTOR_DTYPE).astype(np.float32).tolist() for (b,) in blobs]


def answers(recall: EmbeddedRecall, vectors: list[list[float]]) -> list[Any]:
    """A fixed set of searches: BM25 and dense legs, filtered, sorted, faceted, counted."""
    found: list[Any] = [recall.count()]
    for text in QUERIES:
        legs = recall.search_legs(text, vectors[0], limit=10)
        found.append([(h.product.id, round(h.bm25_score, 4)) for h in legs.bm25])
        found.append([(h.product.id, round(h.dense_score or 0, 4)) for h in legs.dense])
        match = MatchQuery(text, None, (), SearchFilters())
        found.append(recall.match_count(match))
        for sort in ("price_asc", "newest"):
            found.append(recall.match_window(match, sort, 0, 10))
        found.append(recall.facet_counts(match, FACETS, price_edges=EDGES, max_values=10))
    filtered = SearchFilters(in_stock=True, max_price=100.0)
    found.append(recall.dense_neighbours(vectors[1], 0.2, filtered, 50))
    found.append(recall.search("bottle", limit=20, filters=filtered))
    return found


@pytest.fixture(scope="module")
def intact(
    api_data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, list[list[float]], list[Any]]:
    """A copy of the real index (sample catalog, real vectors) with one product deleted (so it
    has a ``.del`` file), its query vectors and its answers."""
    index_dir = tmp_path_factory.mktemp("intact") / "index"
    shutil.copytree(api_data_dir / "index", index_dir)
    recall = EmbeddedRecall(index_dir)
    recall.delete(["en-us-0001"])
    recall.close()
    vectors = _query_vectors(index_dir)
    recall = EmbeddedRecall(index_dir, read_only=True)
    try:
        return index_dir, vectors, answers(recall, vectors)
    finally:
        recall.close()


def _damaged_copy(index_dir: Path, tmp_path: Path, kind: str, how: str) -> Path:
    data_dir = tmp_path / "data"
    copy = data_dir / "index"
    shutil.copytree(index_dir, copy, ignore=shutil.ignore_patterns(".tantivy-*"))
    target = _file_of(copy, kind)
    (nan_fill if how == "nan-fill" else CORRUPTIONS[how])(target)
    return copy


@pytest.mark.parametrize(("kind", "how"), CASES, ids=[f"{k}-{h}" for k, h in CASES])
def test_a_damaged_index_file_fails_clearly_or_answers_as_the_intact_copy(
    intact: tuple[Path, list[list[float]], list[Any]], tmp_path: Path, kind: str, how: str
) -> None:
    index_dir, vectors, expected = intact
    copy = _damaged_copy(index_dir, tmp_path, kind, how)
    try:
        recall = EmbeddedRecall(copy)
    except RecallUnavailable as exc:  # refused at open, with the reason
        assert str(exc)
        return
    try:
        try:
            got = answers(recall, vectors)
        except RecallUnavailable as exc:
            with pytest.raises(RecallUnavailable):  # /readyz's index check fails too
                recall.count()
            if isinstance(exc, IndexCorrupt):
                assert exc.file and exc.fix
            return
        assert got == expected, "different answers, silently"
    finally:
        recall.close()


@pytest.mark.parametrize(
    ("kind", "how"),
    [("term", "garble"), ("fast", "garble"), ("del", "truncate"), ("vectors.db", "nan-fill")],
)
def test_a_damaged_file_is_named_by_shelf_check_with_its_fix(
    intact: tuple[Path, list[list[float]], list[Any]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    kind: str,
    how: str,
) -> None:
    copy = _damaged_copy(intact[0], tmp_path, kind, how)
    monkeypatch.setenv("SHELF_DATA_DIR", str(copy.parent))
    get_settings.cache_clear()
    assert main(["check", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    (problem,) = report["problems"]
    assert problem["file"] == _file_of(copy, kind).name
    assert "shelf" in problem["fix"]


def test_shelf_check_passes_an_intact_index(
    intact: tuple[Path, list[list[float]], list[Any]], tmp_path: Path
) -> None:
    report = check_index(intact[0], verify_bytes=None)
    assert report.ok, report.problems
    assert "vectors.db" in report.checked and report.unverified_bytes == 0


def test_shelf_search_fails_with_the_damaged_files_name(
    intact: tuple[Path, list[list[float]], list[Any]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    copy = _damaged_copy(intact[0], tmp_path, "term", "garble")
    monkeypatch.setenv("SHELF_DATA_DIR", str(copy.parent))
    monkeypatch.setenv("SHELF_EMBED_MODEL", "none")
    get_settings.cache_clear()
    assert main(["search", "--no-rerank", "water bottle"]) == 1
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("shelf search: error: the index file ")
    assert _file_of(copy, "term").name in error and "shelf ingest --full" in error


@pytest.mark.parametrize(
    "vector",
    [[float("nan"), 1.0], [float("inf"), 0.0], [1.0, float("-inf")], [0.0, 0.0], []],
    ids=["nan", "inf", "minus-inf", "zero", "empty"],
)
def test_a_non_finite_or_empty_vector_is_refused_before_it_is_written(
    tmp_path: Path, vector: list[float]
) -> None:
    recall = EmbeddedRecall(tmp_path / "index")
    recall.index([make_product(id="p-1")])
    (pending,) = recall.pending_vectors("m", limit=10)
    with pytest.raises(InvalidVector, match="p-1 must be a non-empty list of finite numbers"):
        recall.put_vectors("m", [StoredVector("p-1", pending.text_hash, vector)])
    assert recall.vector_status().with_vector == 0
    recall.close()


@pytest.mark.parametrize(
    ("how", "found_at_open"), [("truncate", True), ("garble", False)], ids=["truncate", "garble"]
)
def test_without_a_checksum_budget_the_structure_is_still_checked_and_the_rest_left_to_check(
    intact: tuple[Path, list[list[float]], list[Any]], tmp_path: Path, how: str, found_at_open: bool
) -> None:
    copy = _damaged_copy(intact[0], tmp_path, "store", how)
    cheap = check_index(copy, verify_bytes=0)
    assert (not cheap.ok) == found_at_open
    assert cheap.unverified_bytes > 0
    full = check_index(copy, verify_bytes=None)
    assert [p.file for p in full.problems] == [_file_of(copy, "store").name]
