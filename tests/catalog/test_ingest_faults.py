"""Ingest with bad rows and duplicate ids: nothing valid is lost, and the last row of an id wins.

Property tests (hypothesis) over the real tantivy index, plus the 10,000-row acceptance test of
issue 17 through ``shelf ingest``.
"""

from __future__ import annotations

import io
import json
import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.dialect import CANDIDATE_DELIMITERS
from catalog.ingest import ingest_file
from catalog.limits import DEFAULT_LIMITS, RecordLimits
from search.cli.ingest import EXIT_REJECTS
from search.cli.main import main
from search.recall.embedded.backend import EmbeddedRecall
from search.settings import get_settings
from tests.catalog.catalog_faults import KINDS, Row, bad_row, good_row, write_csv

SMALL_CELL = 64
INDEX_PROPERTY = settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@INDEX_PROPERTY
@given(
    st.lists(st.one_of(st.none(), st.sampled_from(KINDS)), min_size=1, max_size=30),
    st.sampled_from(CANDIDATE_DELIMITERS),
    st.integers(min_value=1, max_value=7),
)
def test_every_good_row_is_indexed_and_every_bad_one_is_in_the_rejects_with_its_line(
    kinds: list[str | None], delimiter: str, chunk_size: int
) -> None:
    rows = [
        good_row(f"p{n}", f"Lamp {n}")
        if kind is None
        else bad_row(kind, f"b{n}", "Lamp", SMALL_CELL)
        for n, kind in enumerate(kinds)
    ]
    data, lines = write_csv(rows, delimiter)
    out = io.StringIO()
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "c.csv").write_bytes(data)
        recall = EmbeddedRecall(Path(tmp) / "index")
        report = ingest_file(
            Path(tmp) / "c.csv",
            recall,
            chunk_size=chunk_size,
            rejects_out=out,
            limits=RecordLimits(max_field_chars=SMALL_CELL),
        )
        ids = [r.product_id for r in rows] + [f"b{n} x" for n in range(len(rows))]
        stored = set(recall.content_hashes(ids))
        recall.close()
    good = {r.product_id for r in rows if r.kind is None}
    bad_lines = [line for row, line in zip(rows, lines, strict=True) if row.kind is not None]
    assert stored == good
    assert [json.loads(line)["line"] for line in out.getvalue().splitlines()] == bad_lines
    assert (report.read, report.stored, report.rejected) == (len(rows), len(good), len(bad_lines))


@INDEX_PROPERTY
@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "c", "d"]), st.integers(min_value=1, max_value=99)),
        min_size=1,
        max_size=20,
    ),
    st.integers(min_value=1, max_value=5),
)
def test_the_last_row_of_an_id_wins_across_chunks_and_a_reingest_changes_nothing(
    ids_and_prices: list[tuple[str, int]], chunk_size: int
) -> None:
    rows = [good_row(pid, f"Lamp {pid}", price) for pid, price in ids_and_prices]
    data, lines = write_csv(rows, ",")
    last = {pid: (price, line) for (pid, price), line in zip(ids_and_prices, lines, strict=True)}
    out = io.StringIO()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.csv"
        path.write_bytes(data)
        recall = EmbeddedRecall(Path(tmp) / "index")
        first = ingest_file(path, recall, chunk_size=chunk_size, rejects_out=out)
        again = ingest_file(path, recall, chunk_size=chunk_size)
        prices = {h.product.id: h.product.price for h in recall.search("lamp", limit=10)}
        recall.close()
    assert prices == {pid: float(price) for pid, (price, _) in last.items()}
    assert (first.indexed, first.duplicates, first.rejected) == (
        len(last),
        len(rows) - len(last),
        0,
    )
    assert (again.indexed, again.updated, again.unchanged) == (0, 0, len(last))
    superseded = [json.loads(line) for line in out.getvalue().splitlines()]
    assert sorted((s["line"], s["superseded_by"]) for s in superseded) == sorted(
        (line, last[pid][1])
        for (pid, _), line in zip(ids_and_prices, lines, strict=True)
        if line != last[pid][1]
    )


ACCEPTANCE_ROWS = 10_000
ACCEPTANCE_BAD = 50


def _word(n: int) -> str:
    """A made-up word of letters only, one per n (no digits: analysers split at them)."""
    letters = ""
    while True:
        n, digit = divmod(n, 26)
        letters += "bcdfghjklmnpqrstvwxzaeiouy"[digit]
        if not n:
            return "zq" + letters


def test_a_10000_row_csv_with_50_bad_rows_indexes_exactly_the_9950_good_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = random.Random(17)
    bad_at = set(rng.sample(range(ACCEPTANCE_ROWS), ACCEPTANCE_BAD))
    kinds = iter(KINDS * (ACCEPTANCE_BAD // len(KINDS) + 1))
    rows: list[Row] = []
    for n in range(ACCEPTANCE_ROWS):
        title = f"Desk lamp {_word(n)}"
        if n in bad_at:
            rows.append(bad_row(next(kinds), f"p{n}", title, DEFAULT_LIMITS.max_field_chars))
        else:
            rows.append(good_row(f"p{n}", title, price=1 + n % 500))
    data, lines = write_csv(rows, ",")
    path = tmp_path / "catalog.csv"
    path.write_bytes(data)
    rejects = tmp_path / "rejects.jsonl"

    assert main(["ingest", str(path), "--rejects", str(rejects), "--json"]) == EXIT_REJECTS
    report = json.loads(capsys.readouterr().out)

    assert {row.kind for row in rows} == {None, *KINDS}  # every kind is among the 50
    bad_lines = sorted(line for row, line in zip(rows, lines, strict=True) if row.kind)
    written = [json.loads(line) for line in rejects.read_text(encoding="utf-8").splitlines()]
    assert sorted(r["line"] for r in written) == bad_lines
    assert (report["read"], report["rejected"]) == (ACCEPTANCE_ROWS, ACCEPTANCE_BAD)
    recall = EmbeddedRecall(get_settings().index_dir)
    try:
        assert recall.count() == ACCEPTANCE_ROWS - ACCEPTANCE_BAD
        for n in rng.sample(sorted(set(range(ACCEPTANCE_ROWS)) - bad_at), 20):
            hits = recall.search(_word(n), limit=10)
            assert f"p{n}" in [h.product.id for h in hits], n
        assert recall.content_hashes([f"p{n}" for n in bad_at]) == {}
    finally:
        recall.close()
