"""An experiment's report: metrics per variant with intervals, lift, p-values and SRM.

(Being written: see the issue's report shape.)
"""

from __future__ import annotations

from typing import Any

from search.experiments.definitions import Experiment
from search.experiments.event_log import EventLog


def experiment_report(event_log: EventLog, experiment: Experiment) -> dict[str, Any]:
    """The whole report as JSON-ready data."""
    raise NotImplementedError
