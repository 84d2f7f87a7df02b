"""A read-only data dir is searchable: ``shelf search`` and ``shelf serve`` run in a mount
namespace where the data dir is bind-mounted read-only, so any write under it (tantivy's lock
files, SQLite's WAL files, the marker, the embedding cache) fails them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from bench.common import free_port
from tests.search.api.conftest import server_env

READ_ONLY_MOUNT = ["unshare", "-m", "--propagation", "private", "sh", "-c"]


def _can_mount_read_only(tmp_path: Path) -> bool:
    probe = tmp_path / "probe"
    probe.mkdir()
    script = f'mount --bind -o ro "{probe}" "{probe}" && ! touch "{probe}/x" 2>/dev/null'
    if shutil.which("unshare") is None:
        return False
    return subprocess.run([*READ_ONLY_MOUNT, script], capture_output=True).returncode == 0


def test_a_read_only_data_dir_is_searched_with_both_legs(
    api_data_dir: Path, tmp_path: Path
) -> None:
    if not _can_mount_read_only(tmp_path):
        pytest.skip("needs `unshare -m` and a read-only bind mount (root in a mount namespace)")
    data_dir = tmp_path / "data"
    shutil.copytree(api_data_dir, data_dir, ignore=shutil.ignore_patterns(".tantivy-*"))
    before = sorted((p.name, p.stat().st_mtime_ns) for p in (data_dir / "index").iterdir())
    env = dict(
        os.environ,
        SHELF_DATA_DIR=str(data_dir),
        SHELF_EVENTS_URL=f"sqlite:///{tmp_path / 'events.db'}",  # the event store lives elsewhere
        PYTHONPATH=os.pathsep.join(sys.path),
    )
    search = f'"{sys.executable}" -m search.cli.main search --no-rerank --json "water bottle"'
    script = f'mount --bind -o ro "{data_dir}" "{data_dir}" && {search}'
    done = subprocess.run([*READ_ONLY_MOUNT, script], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["items"]
    assert any(item.get("dense_rank") for item in result["items"])  # vectors.db was read
    after = sorted((p.name, p.stat().st_mtime_ns) for p in (data_dir / "index").iterdir())
    assert after == before


@pytest.mark.slow
def test_shelf_serve_starts_and_searches_on_a_read_only_data_dir(
    api_data_dir: Path, test_model_dir: Path, tmp_path: Path
) -> None:
    if not _can_mount_read_only(tmp_path):
        pytest.skip("needs `unshare -m` and a read-only bind mount (root in a mount namespace)")
    data_dir = tmp_path / "data"
    shutil.copytree(api_data_dir, data_dir, ignore=shutil.ignore_patterns(".tantivy-*"))
    port = free_port()
    env = server_env(
        data_dir,
        test_model_dir,
        SHELF_EVENTS_URL=f"sqlite:///{tmp_path / 'events.db'}",  # the event store lives elsewhere
        PYTHONPATH=os.pathsep.join(sys.path),
    )
    serve = f'exec "{sys.executable}" -m search.cli.main serve --port {port}'
    script = f'mount --bind -o ro "{data_dir}" "{data_dir}" && {serve}'
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([*READ_ONLY_MOUNT, script], env=env, stdout=log, stderr=log)
    try:
        base, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 120
        while not _ready(base):
            assert process.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, "not ready in 120 s"
            time.sleep(0.3)
        found = httpx.get(f"{base}/search", params={"q": "water bottle", "k": 5}, timeout=30)
        assert found.status_code == 200 and found.json()["items"]
    finally:
        process.terminate()
        process.wait(timeout=30)


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
