"""The running experiments as a server sees them: read from the event store in the background.

A search never queries the store for experiments: it reads a list that a background thread
refreshes every ``SHELF_EXPERIMENTS_REFRESH_S`` seconds (and that this process refreshes at once
after changing an experiment), so a start or stop by another server process or by the CLI takes
effect within that interval. Each newly running experiment is prepared (its variant models
loaded) before it is served; one that cannot be prepared is left out, logged, and its shoppers
get the default search, so its data stays clean.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from search.errors import ShelfError
from search.experiments.definitions import Experiment
from search.experiments.event_log import EventLog

log = logging.getLogger(__name__)


class RunningExperiments:
    """``EventLog.experiments("running")``, oldest start first, refreshed in the background."""

    def __init__(
        self,
        event_log: EventLog,
        *,
        refresh_s: float = 5.0,
        prepare: Callable[[Experiment], None] = lambda experiment: None,
    ) -> None:
        self.event_log = event_log
        self.refresh_s = refresh_s
        self.prepare = prepare
        self._running: list[Experiment] = []
        self._refresh_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def running(self) -> list[Experiment]:
        """The experiments searches are assigned to now (no store access)."""
        return self._running

    def refresh(self) -> None:
        """Read the store now; a store that cannot be read keeps the last list (logged)."""
        with self._refresh_lock:
            try:
                stored = self.event_log.experiments("running")
            except Exception as exc:
                log.warning("could not read the running experiments: %s", exc)
                return
            ready = []
            for experiment in sorted(stored, key=lambda e: (e.started_at or e.created_at, e.id)):
                try:
                    self.prepare(experiment)  # loads only what is not loaded yet
                except ShelfError as exc:
                    log.error("experiment %s is not served here: %s", experiment.id, exc)
                    continue
                ready.append(experiment)
            self._running = ready

    def start(self) -> None:
        """Refresh once now, then every ``refresh_s`` seconds in a daemon thread."""
        self.refresh()
        self._thread = threading.Thread(target=self._run, name="shelf-experiments", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop refreshing."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.refresh_s):
            self.refresh()
