"""Issue 27's acceptance: the nested line, the Parquet bomb and a 1e300 price are each rejected
alone through ``shelf ingest``, with the ingest's peak memory asserted, and case 29 as filed.

Each ingest runs in a child process that reports its own peak RSS (``VmHWM``), so the bound
covers everything the ingest touched: reader, validation, index, rejects file. Before the fix
the nested line crashed the ingest (``RecursionError``) and the Parquet bomb peaked at 1.53 GB
and wrote a 400 MB rejects file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from search.cli.ingest import EXIT_REJECTS
from search.cli.main import main
from search.recall.embedded.backend import EmbeddedRecall
from search.settings import get_settings

ROOT = Path(__file__).resolve().parents[2]
CASE_29 = ROOT.parent / "shared" / "cases" / "29-deep-nested-line" / "catalog.jsonl"
PEAK_RSS_BYTES = 400_000_000  # the whole child: Python, pyarrow, tantivy and the ingest
REJECTS_BYTES = 5_000_000  # the bomb's rejects file was 400 MB
# The child's own high-water mark: VmHWM belongs to the process image, where ru_maxrss would
# carry the parent's RSS at fork across exec.
CHILD = """
import json, re, sys
from pathlib import Path
from search.cli.main import main
code = main(["ingest", sys.argv[1], "--embed", "later", "--json", "--rejects", sys.argv[2]])
status = Path("/proc/self/status").read_text()
print(json.dumps({"exit": code, "peak_kib": int(re.search(r"VmHWM:\\s+(\\d+) kB", status)[1])}))
"""


def _good(n: int) -> dict[str, object]:
    return {"id": f"g{n}", "locale": "en-US", "title": f"Notebook A5 no. {n}", "price": 3.5,
            "currency": "EUR"}  # fmt: skip


def _jsonl(path: Path, bad: str) -> tuple[Path, list[int]]:
    lines = (
        [json.dumps(_good(n)) for n in range(5)]
        + [bad]
        + [json.dumps(_good(n)) for n in range(5, 10)]
    )
    path = path.with_suffix(".jsonl")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, [6]


def nested_line(path: Path) -> tuple[Path, list[int]]:
    """A line of 100,000 nested ``[`` (and their ``]``)."""
    return _jsonl(path, "[" * 100_000 + "]" * 100_000)


def huge_price(path: Path) -> tuple[Path, list[int]]:
    """A price of 1e300."""
    return _jsonl(path, json.dumps({**_good(99), "id": "huge", "price": 1e300}))


SCHEMA = pa.schema([("id", pa.string()), ("locale", pa.string()),
                    ("title", pa.dictionary(pa.int32(), pa.string())), ("price", pa.float64()),
                    ("currency", pa.string())])  # fmt: skip


def _rows(titles: pa.DictionaryArray, first: int) -> pa.Table:
    rows = len(titles)
    return pa.table({"id": [f"b{first + n}" for n in range(rows)], "locale": ["en-US"] * rows,
                     "title": titles, "price": [1.0] * rows, "currency": ["EUR"] * rows},
                    schema=SCHEMA)  # fmt: skip


def _repeated(value: str, rows: int) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array([0] * rows, pa.int32()), [value])


def _good_rows() -> pa.Table:
    titles = [str(row["title"]) for row in map(_good, range(10))]
    table = pa.Table.from_pylist([{**_good(n), "title": None} for n in range(10)], schema=SCHEMA)
    return table.set_column(2, "title", pa.array(titles).dictionary_encode())


def parquet_dictionary_bomb(path: Path) -> tuple[Path, list[int]]:
    """A few KB that expand to 900 MB: a dictionary of one 400 KB title for 1,000 rows, and of
    one 5 MB title for 100 rows; then 10 good rows."""
    path = path.with_suffix(".parquet")
    options = {"compression": "zstd", "store_schema": False, "dictionary_pagesize_limit": 1 << 24}
    with pq.ParquetWriter(path, SCHEMA, **options) as writer:  # type: ignore[arg-type]
        writer.write_table(_rows(_repeated("t" * 400_000, 1_000), 0))
        writer.write_table(_rows(_repeated("f" * 5_000_000, 100), 1_000))
        writer.write_table(_good_rows())
    assert path.stat().st_size < 100_000
    return path, list(range(1, 1_101))


def parquet_plain_bomb(path: Path) -> tuple[Path, list[int]]:
    """A few KB that expand to 200 MB: 40 row groups of one plain (not dictionary) 5 MB title
    each, whose metadata says what they would cost; then 10 good rows."""
    path = path.with_suffix(".parquet")
    plain = _rows(_repeated("p" * 5_000_000, 1), 0)
    with pq.ParquetWriter(path, SCHEMA, compression="zstd", store_schema=False,
                          use_dictionary=False) as writer:  # fmt: skip
        for _ in range(40):
            writer.write_table(plain)
        writer.write_table(_good_rows())
    assert path.stat().st_size < 100_000
    return path, list(range(1, 41))


def _ingest_in_child(path: Path, tmp: Path) -> tuple[dict[str, object], int, int, Path]:
    rejects = tmp / "rejects.jsonl"
    env = {**os.environ, "SHELF_DATA_DIR": str(tmp / "data"), "PYTHONPATH": str(ROOT),
           "OMP_NUM_THREADS": "1"}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), str(rejects)],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.stderr.strip() == "" or "Traceback" not in done.stderr, done.stderr
    *report_lines, last = done.stdout.strip().splitlines()
    child = json.loads(last)
    return json.loads("\n".join(report_lines)), child["exit"], child["peak_kib"] * 1024, rejects


HOSTILE = [nested_line, parquet_dictionary_bomb, parquet_plain_bomb, huge_price]


@pytest.mark.parametrize("make", HOSTILE, ids=[make.__name__ for make in HOSTILE])
def test_a_hostile_record_is_rejected_alone_with_memory_bounded(
    tmp_path: Path, make: Callable[[Path], tuple[Path, list[int]]]
) -> None:
    path, bad_lines = make(tmp_path / "catalog")
    report, code, peak, rejects = _ingest_in_child(path, tmp_path)

    written = [json.loads(line) for line in rejects.read_text(encoding="utf-8").splitlines()]
    assert code == EXIT_REJECTS
    assert report["indexed"] == 10
    assert (report["read"], report["rejected"]) == (10 + len(bad_lines), len(bad_lines))
    assert [w["line"] for w in written] == bad_lines
    assert all(w["reason"] for w in written)
    assert rejects.stat().st_size < REJECTS_BYTES
    assert peak < PEAK_RSS_BYTES, f"peak RSS {peak:,} bytes"
    recall = EmbeddedRecall(tmp_path / "data" / "index")
    try:
        assert {h.product.id for h in recall.search("notebook", limit=50)} == {
            f"g{n}" for n in range(10)
        }
    finally:
        recall.close()


def test_case_29_ingests_its_ten_good_lines_and_rejects_the_two_bad_ones(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rejects = tmp_path / "rejects.jsonl"
    code = main(["ingest", str(CASE_29), "--embed", "later", "--json", "--rejects", str(rejects)])
    report = json.loads(capsys.readouterr().out)

    assert code == EXIT_REJECTS
    assert (report["read"], report["indexed"], report["rejected"]) == (12, 10, 2)
    reasons = {r["line"]: r["reason"] for r in report["rejects"]}
    assert reasons == {
        5: "arrays or objects nest at least 33 deep, over the limit of 32 (SHELF_INGEST_MAX_DEPTH)",
        8: "price: must be a finite number from 0 to 1,000,000,000 (got 1e+300)",
    }
    assert len(rejects.read_text(encoding="utf-8")) < 2_000
    recall = EmbeddedRecall(get_settings().index_dir)
    try:
        hits = recall.search("notebook", limit=50)
        assert sorted(h.product.id for h in hits) == [f"p{n}" for n in range(10)]
    finally:
        recall.close()


@pytest.mark.parametrize(
    ("setting", "value", "line", "reason"),
    [
        ("SHELF_INGEST_MAX_DEPTH", "2", {"bullets": [["a"]]}, "nest at least 3 deep"),
        ("SHELF_INGEST_MAX_ITEMS", "2", {"bullets": ["a", "b", "c"]}, "has 3 items"),
        ("SHELF_INGEST_MAX_FIELD_CHARS", "30", {"description": "d" * 31}, "has 31 characters"),
        ("SHELF_INGEST_MAX_KEYS", "5", {"brand": "Acme"}, "the record has 6 keys"),
        ("SHELF_INGEST_MAX_LINE_BYTES", "100", {"brand": "b" * 50}, "bytes, over the limit"),
    ],
)
def test_shelf_ingest_takes_its_limits_from_the_settings(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    setting: str,
    value: str,
    line: dict[str, object],
    reason: str,
) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps(_good(0)) + "\n" + json.dumps({**_good(1), **line}) + "\n")
    monkeypatch.setenv(setting, value)
    get_settings.cache_clear()

    assert main(["ingest", str(path), "--embed", "later", "--json"]) == EXIT_REJECTS
    report = json.loads(capsys.readouterr().out)
    [reject] = report["rejects"]
    assert reject["line"] == 2 and reason in reject["reason"] and setting in reject["reason"]
    assert report["indexed"] == 1
