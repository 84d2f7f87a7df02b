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
from collections.abc import Callable
from typing import Any

from search.errors import ShelfError
from search.events.definitions import Experiment
from search.events.log import EventLog
from search.events.refreshed import Freshness, LastGood, Refreshed

log = logging.getLogger(__name__)


class RunningExperiments:
    """``EventLog.experiments("running")``, oldest start first, refreshed in the background
    (``search.events.refreshed.Refreshed``)."""

    def __init__(
        self,
        event_log: EventLog,
        *,
        refresh_s: float = 5.0,
        prepare: Callable[[Experiment], None] = lambda experiment: None,
        last_good: LastGood | None = None,
    ) -> None:
        self.event_log = event_log
        self.refresh_s = refresh_s
        self.prepare = prepare
        copy = None if last_good is None else last_good.copy("experiments", _as_json, self._of_json)
        self._running: Refreshed[list[Experiment]] = Refreshed(
            self._ready, [], refresh_s=refresh_s, name="experiments", copy=copy
        )

    def running(self) -> list[Experiment]:
        """The experiments searches are assigned to now (no store access)."""
        return self._running.get()

    def freshness(self) -> Freshness:
        """Whether the list may be stale (the store could not be read), and its age."""
        return self._running.freshness()

    def refresh(self) -> None:
        """Read the store now; a store that cannot be read keeps the last list (logged)."""
        self._running.refresh()

    def _ready(self) -> list[Experiment]:
        return self._prepared(self.event_log.experiments("running"))

    def _of_json(self, rows: list[dict[str, Any]]) -> list[Experiment]:
        """The experiments of the local copy, prepared as the store's are."""
        return self._prepared([Experiment.model_validate(row) for row in rows])

    def _prepared(self, stored: list[Experiment]) -> list[Experiment]:
        ready = []
        for experiment in sorted(stored, key=lambda e: (e.started_at or e.created_at, e.id)):
            try:
                self.prepare(experiment)  # loads only what is not loaded yet
            except ShelfError as exc:
                log.error("experiment %s is not served here: %s", experiment.id, exc)
                continue
            ready.append(experiment)
        return ready

    def start(self) -> None:
        """Refresh once now, then every ``refresh_s`` seconds in a daemon thread."""
        self._running.start()

    def close(self) -> None:
        """Stop refreshing."""
        self._running.close()


def _as_json(experiments: list[Experiment]) -> list[dict[str, Any]]:
    """The running experiments as JSON-able data (their local copy)."""
    return [experiment.model_dump(mode="json") for experiment in experiments]
