"""A full disk during ingest says "no space left on device", what was committed (how many
records, up to which line) and how to resume; re-running the same file then completes it.

The default tests wrap the real embedded index so that it fails the way each layer reports a
full disk (Python's ENOSPC, tantivy's words for it, SQLite's, a wrapped one) after N records.
One more runs the real tantivy index on a real 1 MB tmpfs when this machine can mount one.
"""

from __future__ import annotations

import errno
import json
import sqlite3
import subprocess
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from catalog.disk_full import DiskFull, is_disk_full
from catalog.ingest import ingest_file
from catalog.product import Product
from search.cli.main import main
from search.errors import RecallUnavailable
from search.recall import IndexFailure
from search.recall.embedded.backend import EmbeddedRecall
from search.settings import get_settings


def _enospc() -> BaseException:
    return OSError(errno.ENOSPC, "No space left on device")


def _tantivy() -> BaseException:
    return ValueError("An IO error occurred: 'No space left on device (os error 28)'")


def _sqlite() -> BaseException:
    return sqlite3.OperationalError("database or disk is full")


def _wrapped() -> BaseException:
    try:
        raise _tantivy()
    except ValueError as exc:
        try:
            raise RecallUnavailable("cannot write to the product index") from exc
        except RecallUnavailable as wrapped:
            return wrapped


FAULTS: list[Callable[[], BaseException]] = [_enospc, _tantivy, _sqlite, _wrapped]


class FullAfter:
    """A real EmbeddedRecall on a disk with room for ``room`` records: the chunk that would
    pass it fails with ``fault`` before anything of it is written."""

    def __init__(self, recall: EmbeddedRecall, room: int, fault: Callable[[], BaseException]):
        self.recall, self.room, self.fault = recall, room, fault

    def __getattr__(self, name: str) -> object:
        return getattr(self.recall, name)

    def index(self, products: Sequence[Product]) -> list[IndexFailure]:
        if len(products) > self.room:
            raise self.fault()
        self.room -= len(products)
        return self.recall.index(products)


LONG_DESCRIPTION = " ".join(f"word{n}" for n in range(300))


def _catalog(path: Path, count: int = 50, *, description: str | None = None) -> Path:
    """``count`` lamps as JSON lines at ``path``; each with ``description`` when given (a long
    one fills a tiny disk sooner)."""
    extra = {} if description is None else {"description": description}
    rows = [
        {"id": f"p{n}", "locale": "en-US", "title": f"Lamp {n}", "price": 5, "currency": "EUR",
         **extra}
        for n in range(count)
    ]  # fmt: skip
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize("fault", FAULTS, ids=[f.__name__.strip("_") for f in FAULTS])
def test_disk_full_says_so_with_what_was_committed_and_a_rerun_completes(
    tmp_path: Path, fault: Callable[[], BaseException]
) -> None:
    path = _catalog(tmp_path / "c.jsonl")
    recall = EmbeddedRecall(tmp_path / "index")
    full = FullAfter(recall, room=25, fault=fault)

    with pytest.raises(DiskFull) as raised:
        ingest_file(path, full, chunk_size=10)  # type: ignore[arg-type]

    message = str(raised.value)
    assert message.startswith(f"no space left on device while ingesting {path}: ")
    assert "the first 20 records (lines 1-20) were committed: 20 stored, 0 rejected" in message
    assert "the records after line 20 were not" in message
    assert "run the same command again: re-ingesting is idempotent" in message
    assert raised.value.status_code == 507
    assert recall.count() == 20
    again = ingest_file(path, recall, chunk_size=10)
    assert (again.unchanged, again.indexed, recall.count()) == (20, 30, 50)


def test_disk_full_during_a_full_reload_changes_nothing(tmp_path: Path) -> None:
    recall = EmbeddedRecall(tmp_path / "index")
    ingest_file(_catalog(tmp_path / "old.jsonl", 5), recall)
    path = _catalog(tmp_path / "c.jsonl")

    with pytest.raises(DiskFull, match="with --full: nothing was changed"):
        ingest_file(path, FullAfter(recall, 25, _tantivy), chunk_size=10, full=True)  # type: ignore[arg-type]
    assert recall.count() == 5


@pytest.mark.parametrize(
    ("error", "disk_nearly_full", "full"),
    [
        (ValueError("An index writer was killed.. (io::Error most likely)"), True, True),
        (ValueError("An index writer was killed.. (io::Error most likely)"), False, False),
        (ValueError("An IO error occurred: 'Permission denied (os error 13)'"), True, False),
        (ValueError("An IO error occurred: 'Permission denied (os error 13)'"), False, False),
        (OSError(errno.EDQUOT, "Disk quota exceeded"), False, True),
        (OSError(errno.EACCES, "Permission denied"), True, False),
        (ValueError("schema mismatch"), True, False),
    ],
)
def test_a_bare_io_failure_of_the_engine_counts_as_disk_full_only_when_the_disk_is(
    tmp_path: Path, error: BaseException, disk_nearly_full: bool, full: bool
) -> None:
    # The real free space of tmp_path, judged against a threshold above or below it.
    low = 1 << 62 if disk_nearly_full else 0
    assert is_disk_full(error, tmp_path / "index", low_free_bytes=low) is full


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MB tmpfs (root only; elsewhere the wrapped faults above stand in for it)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
        capture_output=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_real_full_disk_under_tantivy_says_no_space_left_and_what_was_committed(
    tmp_path: Path, tiny_disk: Path
) -> None:
    path = _catalog(tmp_path / "c.jsonl", 5_000, description=LONG_DESCRIPTION)
    recall = EmbeddedRecall(tiny_disk / "index")

    with pytest.raises(DiskFull) as raised:
        ingest_file(path, recall, chunk_size=50, index_dir=tiny_disk / "index")

    message = str(raised.value)
    assert message.startswith(f"no space left on device while ingesting {path}: ")
    assert "were committed" in message and "run the same command again" in message
    committed = int(message.split("the first ")[1].split(" records")[0].replace(",", ""))
    assert committed > 0 and committed % 50 == 0
    assert f"(lines 1-{committed:,})" in message


def test_shelf_ingest_on_a_full_disk_exits_1_saying_no_space_left(
    tmp_path: Path,
    tiny_disk: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = _catalog(tmp_path / "c.jsonl", 3_000, description=LONG_DESCRIPTION)
    monkeypatch.setenv("SHELF_DATA_DIR", str(tiny_disk))
    get_settings.cache_clear()

    assert main(["ingest", str(path), "--embed", "later"]) == 1
    error = capsys.readouterr().err
    assert error.startswith(f"shelf ingest: error: no space left on device while ingesting {path}")
    assert "run the same command again" in error and "Traceback" not in error
