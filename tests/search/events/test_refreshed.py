"""Refreshed snapshots: the last good copy kept on disk, served when the store cannot be read,
and said to be stale until the store is read again."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from search.events.refreshed import Fallback, LastGood, LocalCopy, Refreshed

SOURCE = LastGood.of(Path("/unused"), "postgresql+psycopg://u:secret@db/shop", "shelf_").source


class Store:
    """A store that answers with ``value`` until ``down`` (then raises as a driver would)."""

    def __init__(self, value: list[str]) -> None:
        self.value = value
        self.down = False

    def read(self) -> list[str]:
        if self.down:
            raise ConnectionRefusedError("connection refused (port 5432)")
        return list(self.value)


def _copy(folder: Path, source: str = SOURCE) -> LocalCopy[list[str]]:
    return LastGood(folder, source).copy("terms", list, lambda data: [str(t) for t in data])


def _snapshot(
    store: Store, folder: Path, clock: Callable[[], float] = lambda: 1000.0
) -> Refreshed[list[str]]:
    return Refreshed(store.read, [], refresh_s=3600, name="terms", copy=_copy(folder), clock=clock)


def test_a_good_reload_is_written_to_the_copy_whole(tmp_path: Path) -> None:
    snapshot = _snapshot(Store(["a", "b"]), tmp_path)
    assert snapshot.refresh()
    assert _copy(tmp_path).load() is not None
    assert _copy(tmp_path).load()[0] == ["a", "b"]  # type: ignore[index]
    assert [p.name for p in tmp_path.iterdir()] == [f"terms.{SOURCE}.json"]  # no temp file left


def test_a_failed_reload_keeps_the_snapshot_and_says_it_is_stale(tmp_path: Path) -> None:
    store, now = Store(["a"]), [1000.0]
    snapshot = _snapshot(store, tmp_path, clock=lambda: now[0])
    snapshot.refresh()
    store.down, now[0] = True, 1042.0
    assert not snapshot.refresh()
    fresh = snapshot.freshness()
    assert snapshot.get() == ["a"]
    assert (fresh.stale, fresh.age_s, fresh.source) == (True, 42.0, "store")
    assert fresh.problem is not None and "ConnectionRefusedError" in fresh.problem


def test_stale_clears_when_the_store_is_read_again(tmp_path: Path) -> None:
    store = Store(["a"])
    snapshot = _snapshot(store, tmp_path)
    store.down = True
    snapshot.start()
    assert snapshot.freshness().stale
    store.down, store.value = False, ["b"]
    assert snapshot.refresh()
    snapshot.close()
    assert snapshot.get() == ["b"] and not snapshot.freshness().stale
    assert _copy(tmp_path).load()[0] == ["b"]  # type: ignore[index]


def test_a_start_with_the_store_down_serves_the_copy(tmp_path: Path) -> None:
    _snapshot(Store(["a", "b"]), tmp_path).refresh()
    written = (tmp_path / f"terms.{SOURCE}.json").stat().st_mtime
    store = Store([])
    store.down = True
    restarted = _snapshot(store, tmp_path, clock=lambda: written + 7)
    restarted.start()
    restarted.close()
    fresh = restarted.freshness()
    assert restarted.get() == ["a", "b"]
    assert (fresh.stale, fresh.source, fresh.age_s) == (True, "local copy", pytest.approx(7))


def test_an_unchanged_reload_marks_the_copy_confirmed_without_rewriting_it(
    tmp_path: Path,
) -> None:
    snapshot = _snapshot(Store(["a"]), tmp_path)
    snapshot.refresh()
    path = tmp_path / f"terms.{SOURCE}.json"
    os.utime(path, (1, 1))
    inode = path.stat().st_ino
    snapshot.refresh()
    assert path.stat().st_ino == inode and path.stat().st_mtime > 1


def _garble(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-7])


def _not_json(path: Path) -> None:
    path.write_bytes(b"\x00\xff" * 50)


def _other_format(path: Path) -> None:
    path.write_text(json.dumps({"format": 99, "source": SOURCE, "value": []}))


def _other_store(path: Path) -> None:
    path.write_text(json.dumps({"format": 1, "source": "0123456789ab", "value": ["x"]}))


def _bad_value(path: Path) -> None:
    path.write_text(json.dumps({"format": 1, "source": SOURCE, "value": 5}))


def _empty(path: Path) -> None:
    path.write_bytes(b"")


@pytest.mark.parametrize(
    "damage", [_garble, _not_json, _other_format, _other_store, _bad_value, _empty]
)
def test_a_damaged_or_foreign_copy_is_not_served_and_does_not_stop_the_start(
    tmp_path: Path, damage: Callable[[Path], None]
) -> None:
    _snapshot(Store(["a"]), tmp_path).refresh()
    damage(tmp_path / f"terms.{SOURCE}.json")
    store = Store([])
    store.down = True
    restarted = _snapshot(store, tmp_path)
    restarted.start()
    restarted.close()
    assert restarted.get() == []
    assert restarted.freshness().source == "none" and restarted.freshness().stale


def test_a_copy_that_cannot_be_written_does_not_fail_the_reload(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    snapshot = _snapshot(Store(["a"]), blocked)
    assert all(snapshot.refresh() for _ in range(3))
    assert snapshot.get() == ["a"] and not snapshot.freshness().stale
    said = [r for r in caplog.records if "could not keep a local copy" in r.getMessage()]
    assert len(said) == 1  # once per cause, not at every reload


def test_a_partial_reload_serves_its_fallback_and_says_it_is_stale(tmp_path: Path) -> None:
    def partly() -> list[str]:
        raise Fallback(["from the catalog"], "popular queries as last read")

    snapshot = Refreshed(partly, [], refresh_s=3600, name="suggestions", copy=_copy(tmp_path))
    assert not snapshot.refresh()
    assert snapshot.get() == ["from the catalog"]
    assert snapshot.freshness().problem == "popular queries as last read"
    assert not any(tmp_path.iterdir())  # a partial value is never the last good copy


def test_the_store_identity_leaves_the_password_out_and_tells_prefixes_apart() -> None:
    url = "postgresql+psycopg://u:secret@db/shop"
    assert LastGood.of(Path("."), url, "a_").source != LastGood.of(Path("."), url, "b_").source
    other_password = LastGood.of(Path("."), url.replace("secret", "other"), "a_").source
    assert other_password == LastGood.of(Path("."), url, "a_").source
