"""A value read from a store in the background: what a running server knows of configuration
kept in the event database (synonyms, merchandising rules, running experiments).

A search never reads the store for it: it reads the last snapshot, which a daemon thread
reloads every ``refresh_s`` seconds (and which a process reloads at once after changing the
store itself), so a change made by another server process or by the CLI takes effect within that
interval, with no restart. A store that cannot be read keeps the last snapshot (logged), and the
snapshot says it may be stale (``Refreshed.freshness``: the search response and ``/readyz``
report it).

With a ``LocalCopy``, each good snapshot is also written to a local JSON file (atomically: a
temporary file, then ``os.replace``), so a server that starts while the store is down serves
the copy instead of nothing; the file's modification time is when the store last confirmed it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

T = TypeVar("T")

_FORMAT = 1  # the copy file's layout; another one is not read


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` whole or not at all: a temporary file in the same folder,
    flushed to disk, then renamed over it (``OSError`` when it cannot be written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


@dataclass(frozen=True)
class LocalCopy(Generic[T]):
    """Where a snapshot's last good copy is kept (``path``, JSON), how it is written
    (``encode``: the value as JSON-able data) and read (``decode``), and the store it came from
    (``source``: a copy of another store is never served)."""

    path: Path
    encode: Callable[[T], Any]
    decode: Callable[[Any], T]
    source: str

    def dump(self, value: T) -> bytes:
        """The copy file's bytes for ``value``."""
        body = {"format": _FORMAT, "source": self.source, "value": self.encode(value)}
        return json.dumps(body, ensure_ascii=False, sort_keys=True).encode("utf-8")

    def load(self) -> tuple[T, float] | None:
        """The copy and when the store last confirmed it (epoch seconds: the file's mtime);
        None when there is none. ``ValueError`` when the file is not a copy of this store."""
        try:
            raw = self.path.read_bytes()
            confirmed_at = self.path.stat().st_mtime
        except FileNotFoundError:
            return None
        body = json.loads(raw)
        if not isinstance(body, dict) or body.get("format") != _FORMAT:
            raise ValueError(f"{self.path} is not a Shelf snapshot copy (format {_FORMAT})")
        if body.get("source") != self.source:
            raise ValueError(f"{self.path} is a copy of another event store ({body.get('source')})")
        return self.decode(body["value"]), confirmed_at


@dataclass(frozen=True)
class LastGood:
    """The folder of one event store's local copies; ``source`` names the store (a hash of its
    URL, password left out, and table prefix), so a copy is only served for its own store."""

    folder: Path
    source: str

    @classmethod
    def of(cls, folder: Path, events_url: str, table_prefix: str) -> LastGood:
        """The copies of the store at ``events_url`` (its tables named ``table_prefix``...)."""
        shown = make_url(events_url).render_as_string(hide_password=True)
        digest = hashlib.sha256(f"{shown}|{table_prefix}".encode()).hexdigest()[:12]
        return cls(folder, digest)

    def copy(
        self, name: str, encode: Callable[[T], Any], decode: Callable[[Any], T]
    ) -> LocalCopy[T]:
        """Where snapshot ``name`` is kept: ``<folder>/<name>.<source>.json``."""
        return LocalCopy(self.folder / f"{name}.{self.source}.json", encode, decode, self.source)


@dataclass(frozen=True)
class Freshness:
    """How current a snapshot is: ``stale`` when the last reload failed (``problem`` says why);
    ``age_s``: seconds since the store last confirmed it (None: never, it is the empty
    default); ``source``: where the value served came from."""

    name: str
    stale: bool
    age_s: float | None
    source: Literal["store", "local copy", "none"]
    problem: str | None = None


class Fallback(Exception):  # noqa: N818 (a value to serve, not an error)
    """Raised by a ``load`` that could only build part of its value (a source was down): the
    snapshot serves ``value`` and says it is stale, for ``problem``; it is not written to the
    local copy."""

    def __init__(self, value: object, problem: str) -> None:
        super().__init__(problem)
        self.value = value
        self.problem = problem


def describe_failure(exc: BaseException) -> str:
    """One line for an operator: the error's kind and its first line (SQLAlchemy's messages run
    on with the statement and a link)."""
    first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return f"{type(exc).__name__}: {first[0][:200] if first else ''}".rstrip(": ")


class Refreshed(Generic[T]):
    """``load()``'s last result, reloaded every ``refresh_s`` seconds in a daemon thread, and
    kept in ``copy`` (when given) after every good reload."""

    def __init__(
        self,
        load: Callable[[], T],
        initial: T,
        *,
        refresh_s: float,
        name: str,
        copy: LocalCopy[T] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if refresh_s <= 0:
            raise ValueError(f"refresh_s must be positive (got {refresh_s})")
        self._load = load
        self._value = initial
        self.refresh_s = refresh_s
        self.name = name
        self.copy = copy
        self._clock = clock
        self._confirmed_at: float | None = None  # when the store last gave (or matched) it
        self._source: Literal["store", "local copy", "none"] = "none"
        self._problem: str | None = None
        self._copied: tuple[object, bytes] | None = None  # the value last written, its bytes
        self._copy_problem: str | None = None  # why the copy could not be written, last time
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def get(self) -> T:
        """The last snapshot (no store access)."""
        return self._value

    def freshness(self) -> Freshness:
        """Whether the snapshot may be stale, and how old it is (no store access)."""
        confirmed = self._confirmed_at
        age = None if confirmed is None else max(0.0, self._clock() - confirmed)
        stale = self._problem is not None
        return Freshness(self.name, stale, age, self._source, self._problem)

    def refresh(self) -> bool:
        """Reload now; False (the last snapshot kept, logged) when the store failed."""
        with self._lock:
            try:
                value = self._load()
            except Fallback as partial:
                log.warning("could only partly reload %s: %s", self.name, partial.problem)
                self._value = partial.value  # type: ignore[assignment]
                self._problem = partial.problem
                return False
            except Exception as exc:  # any store fault: keep serving the last snapshot
                log.warning("could not reload %s: %s", self.name, exc)
                self._problem = f"the event store could not be read ({describe_failure(exc)})"
                return False
            self._value = value
            self._confirmed_at = self._clock()
            self._source = "store"
            self._problem = None
            self._save(value)
            return True

    def start(self) -> None:
        """Reload once now (from the local copy when the store cannot be read), then every
        ``refresh_s`` seconds until ``close``."""
        if not self.refresh() and self._source == "none":
            self.restore()
        self._thread = threading.Thread(target=self._run, name=f"shelf-{self.name}", daemon=True)
        self._thread.start()

    def restore(self) -> bool:
        """Serve the local copy (stale until the store is read); False when there is none or it
        cannot be read (logged: a damaged copy is no reason not to start)."""
        if self.copy is None:
            return False
        try:
            loaded = self.copy.load()
        except Exception as exc:  # a damaged or foreign copy: start from the default instead
            log.warning("could not read the local copy of %s: %s", self.name, exc)
            return False
        if loaded is None:
            return False
        with self._lock:
            self._value, self._confirmed_at = loaded
            self._source = "local copy"
            if self._problem is None:
                self._problem = "not read from the event store yet"
        log.warning("serving the local copy of %s", self.name, extra={"copy": str(self.copy.path)})
        return True

    def close(self) -> None:
        """Stop reloading."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.refresh_s):
            self.refresh()

    def _save(self, value: T) -> None:
        """Write ``value`` to the local copy when it changed; else mark the copy confirmed now.
        A copy that cannot be written (a read-only or full disk) is logged, never raised."""
        copy = self.copy
        if copy is None:
            return
        try:
            known = self._copied
            data = known[1] if known is not None and known[0] is value else copy.dump(value)
            if known is not None and known[1] == data:
                try:
                    os.utime(copy.path)  # the same copy, confirmed now
                    self._copied = (value, data)
                    return
                except FileNotFoundError:  # removed meanwhile: write it again
                    pass
            write_atomically(copy.path, data)
            self._copied = (value, data)
            self._copy_problem = None
        except Exception as exc:
            if str(exc) != self._copy_problem:  # once per cause, not at every reload
                log.warning("could not keep a local copy of %s: %s", self.name, exc)
            self._copy_problem = str(exc)
