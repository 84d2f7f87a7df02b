"""A value read from a store in the background: what a running server knows of configuration
kept in the event database (synonyms, merchandising rules).

A search never reads the store for it: it reads the last snapshot, which a daemon thread
reloads every ``refresh_s`` seconds (and which a process reloads at once after changing the
store itself), so a change made by another server process or by the CLI takes effect within that
interval, with no restart. A store that cannot be read keeps the last snapshot (logged).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class Refreshed(Generic[T]):
    """``load()``'s last result, reloaded every ``refresh_s`` seconds in a daemon thread."""

    def __init__(self, load: Callable[[], T], initial: T, *, refresh_s: float, name: str) -> None:
        if refresh_s <= 0:
            raise ValueError(f"refresh_s must be positive (got {refresh_s})")
        self._load = load
        self._value = initial
        self.refresh_s = refresh_s
        self.name = name
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def get(self) -> T:
        """The last snapshot (no store access)."""
        return self._value

    def refresh(self) -> bool:
        """Reload now; False (and the last snapshot kept, logged) when the store failed."""
        with self._lock:
            try:
                value = self._load()
            except Exception as exc:  # any store fault: keep serving the last snapshot
                log.warning("could not reload %s: %s", self.name, exc)
                return False
            self._value = value
            return True

    def start(self) -> None:
        """Reload once now, then every ``refresh_s`` seconds until ``close``."""
        self.refresh()
        self._thread = threading.Thread(target=self._run, name=f"shelf-{self.name}", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop reloading."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.refresh_s):
            self.refresh()
