"""The real stores the tests use beside the embedded ones: where they are, and how to open them."""

from __future__ import annotations

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
