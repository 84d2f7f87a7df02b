"""CPU threads of the models: how many cores this process is given, and torch's thread counts.

A model on a shared CPU runs *slower* with more threads than it has cores to itself: on a 2-core
box with a web server beside it, the tiny test model scored 50 pairs in 20.6 ms (median) with one
torch thread and 25.9 ms with two, with stalls up to 693 ms when the threads spun against the
request threads (issue 18 measured 80 ms against 994 ms under heavier contention). So the default
is half the cores the process is given (at least one), leaving the rest to the server's threads.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from pathlib import Path

log = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")

_torch_lock = threading.Lock()
_interop_threads: int | None = None  # what this process fixed torch's inter-op pool at


def cgroup_cpu_limit(root: Path = CGROUP_ROOT) -> float | None:
    """The CPU quota of this process's cgroup in cores (``1.5`` for 150 ms per 100 ms), or
    None when there is none. Reads cgroup v2 ``cpu.max``, else v1 ``cpu.cfs_quota_us`` and
    ``cpu.cfs_period_us``; unreadable or malformed files count as no quota."""
    try:
        quota, _, period = (root / "cpu.max").read_text().strip().partition(" ")
        if quota == "max":
            return None
        return int(quota) / int(period or "100000")
    except (OSError, ValueError, ZeroDivisionError):
        pass
    try:
        quota_us = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((root / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota_us / period_us if quota_us > 0 and period_us > 0 else None


def available_cores(root: Path = CGROUP_ROOT) -> int:
    """The cores this process may use: its CPU affinity, capped by its cgroup's CPU quota
    (rounded up: 1.5 cores of quota can keep two threads half busy), at least one."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    limit = cgroup_cpu_limit(root)
    if limit is not None:
        cores = min(cores, math.ceil(limit))
    return max(1, cores)


def default_threads(cores: int | None = None) -> int:
    """Threads of one model when its setting is unset: half the cores given (at least one)."""
    return max(1, (available_cores() if cores is None else cores) // 2)


def set_torch_threads(threads: int) -> None:
    """Set torch's intra-op threads (process-wide) to ``threads``, and its inter-op pool once.

    torch accepts the inter-op count only once per process and before any parallel work: the
    first model loaded fixes it; a later, different request is logged, not fatal.
    """
    import torch

    global _interop_threads
    with _torch_lock:
        torch.set_num_threads(threads)
        if _interop_threads is not None:
            if _interop_threads != threads:
                log.info(
                    "torch inter-op threads are already fixed for this process",
                    extra={"interop_threads": _interop_threads, "wanted": threads},
                )
            return
        try:
            torch.set_num_interop_threads(threads)
        except RuntimeError:  # parallel work already ran (or another library set it)
            log.info(
                "torch inter-op threads are already fixed for this process",
                extra={"interop_threads": torch.get_num_interop_threads(), "wanted": threads},
            )
        _interop_threads = torch.get_num_interop_threads()
