"""The private PostgreSQL fixture: a real server a test may stop and restart."""

from __future__ import annotations

import psycopg
import pytest

from tests.stores import PrivatePostgres


def _select_one(server: PrivatePostgres) -> int:
    with psycopg.connect(
        host="127.0.0.1", port=server.port, user="postgres", dbname="postgres", connect_timeout=2
    ) as conn:
        row = conn.execute("SELECT 1").fetchone()
    assert row is not None
    return int(row[0])


def test_private_postgres_stops_and_restarts(private_postgres: PrivatePostgres) -> None:
    assert _select_one(private_postgres) == 1
    private_postgres.stop()
    with pytest.raises(psycopg.OperationalError):
        _select_one(private_postgres)
    private_postgres.start()
    assert _select_one(private_postgres) == 1
