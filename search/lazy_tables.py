"""Tables made when the event store is first reached, not when Shelf starts.

A server must start, and search, while its event store (PostgreSQL) is down, so nothing that
opens on the store may connect in its constructor. Each store registers its tables here with
``create_when_connected``; they are made (``CREATE TABLE IF NOT EXISTS``, then any follow-up
such as adding missing columns) on the first connection the engine opens, on that connection and
before the caller uses it. A failure leaves them pending: the next connection tries again.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable

import sqlalchemy as sa

#: What else a set of tables needs once made (on the same connection; committed with them).
FollowUp = Callable[[sa.Connection], object]


class _PendingSchema:
    """The tables an engine has yet to make, made by its ``engine_connect`` event."""

    def __init__(self, engine: sa.Engine) -> None:
        self._pending: list[tuple[sa.MetaData, FollowUp | None]] = []
        self._lock = threading.RLock()
        self._making = False
        sa.event.listen(engine, "engine_connect", self._on_connect)

    def add(self, metadata: sa.MetaData, follow_up: FollowUp | None) -> None:
        with self._lock:
            self._pending.append((metadata, follow_up))

    def _on_connect(self, conn: sa.Connection) -> None:
        if not self._pending:  # the usual case, once made: no lock taken
            return
        with self._lock:
            if self._making:  # a connection opened while making them (same thread)
                return
            self._making = True
            try:
                while self._pending:
                    metadata, follow_up = self._pending[0]
                    metadata.create_all(conn)
                    if follow_up is not None:
                        follow_up(conn)
                    conn.commit()
                    self._pending.pop(0)
            except Exception:
                # The connection never reaches the caller: give it back to the pool now.
                conn.rollback()
                conn.close()
                raise
            finally:
                self._making = False


_schemas: weakref.WeakKeyDictionary[sa.Engine, _PendingSchema] = weakref.WeakKeyDictionary()
_schemas_lock = threading.Lock()


def create_when_connected(
    engine: sa.Engine, metadata: sa.MetaData, follow_up: FollowUp | None = None
) -> None:
    """Make ``metadata``'s missing tables, then run ``follow_up`` (on the same connection, in
    the same transaction), when ``engine`` next opens a connection; at once nothing connects,
    so a store that is down costs nothing here. Errors surface on that connection's
    ``engine.connect()`` and the tables stay pending."""
    with _schemas_lock:
        schema = _schemas.get(engine)
        if schema is None:
            schema = _schemas[engine] = _PendingSchema(engine)
    schema.add(metadata, follow_up)
