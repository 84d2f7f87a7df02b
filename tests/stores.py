"""The real stores the tests use beside the embedded ones: where they are, and how to open them."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from search.events.log import PostgresEventLog

# The local PostgreSQL `make services` starts (trust auth); tests keep to tables of their own.
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_event_log(table_prefix: str) -> PostgresEventLog:
    """An event log in the real PostgreSQL; the test fails (never skips) if it is down."""
    try:
        return PostgresEventLog(POSTGRES_URL, table_prefix=table_prefix)
    except Exception as exc:
        pytest.fail(f"PostgreSQL at {POSTGRES_URL} is not reachable ({exc}): run `make services`")


class PrivatePostgres:
    """A PostgreSQL server of a test's own (``initdb`` in a temporary folder, its own port),
    so a test can stop and restart a real server without touching the shared one.

    Run as the ``postgres`` user when the tests run as root (``initdb`` refuses root)."""

    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.port = port
        self.data = root / "data"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
        self._bin = _postgres_bin()

    def _run(self, *args: str) -> None:
        command = [str(self._bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:1])} failed: {done.stderr.strip()[-2000:]}")

    def init(self) -> PrivatePostgres:
        """Create the cluster (trust auth, no fsync: a test's data need not survive a crash)."""
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        return self

    def start(self) -> None:
        """Start the server and wait until it accepts connections (at most 30 s)."""
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "log"),
            "-w",
            "-t",
            "30",
            "start",
        )

    def stop(self) -> None:
        """Stop the server at once (``-m fast``: clients are disconnected)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")


def _postgres_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        pytest.fail("no PostgreSQL server binaries under /usr/lib/postgresql: run `make services`")
    return found[-1].parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PrivatePostgres]:
    """A running PostgreSQL of the session's own, for tests that stop and restart it; each
    such test leaves it running. Its folder is outside pytest's (which only root may enter)."""
    root = Path(tempfile.mkdtemp(prefix="shelf-pg-"))
    server = PrivatePostgres(root, _free_port()).init()
    server.start()
    try:
        yield server
    finally:
        with contextlib.suppress(Exception):
            server.stop()
        shutil.rmtree(root, ignore_errors=True)
