"""Start real Celery rerank workers (``shelf worker`` subprocesses) on the real Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from workers.celery_app import RERANK_TASK


def worker_env(
    *, redis_url: str, model_dir: Path, queue: str, cache_prefix: str, **extra: str
) -> dict[str, str]:
    """The environment of a worker serving ``queue`` with the test model."""
    env = dict(os.environ)
    env.update(
        SHELF_REDIS_URL=redis_url,
        SHELF_RERANK_MODEL=str(model_dir),
        SHELF_RERANK_DEVICE="cpu",
        SHELF_RERANK_QUEUE=queue,
        SHELF_SCORE_CACHE_PREFIX=cache_prefix,
        TOKENIZERS_PARALLELISM="false",
    )
    env.update(extra)
    return env


class WorkerProcess:
    """One ``shelf worker`` process, its output kept in a log file for failing tests."""

    def __init__(
        self, env: dict[str, str], log_path: Path, concurrency: int = 2, *extra_args: str
    ) -> None:
        self.log_path = log_path
        self._log: IO[bytes] = open(log_path, "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "search.cli.main", "worker", f"--concurrency={concurrency}"]
            + list(extra_args),
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        """The worker's process id."""
        return self.process.pid

    def log_tail(self) -> str:
        """The end of the worker's output."""
        return self.log_path.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        """Terminate the worker and wait for it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def wait_until_serving(app: Any, queue: str, model_id: str, worker: WorkerProcess) -> None:
    """Block until a worker on ``queue`` answers a one-pair task (it loads the model first)."""
    deadline = time.monotonic() + 120
    result = app.send_task(RERANK_TASK, args=(model_id, "ping", [["p", "ping"]]), queue=queue)
    while time.monotonic() < deadline:
        if worker.process.poll() is not None:
            raise RuntimeError(
                f"worker exited with {worker.process.returncode}:\n{worker.log_tail()}"
            )
        if result.ready():
            result.get(timeout=1)
            return
        time.sleep(0.1)
    raise RuntimeError(f"worker did not start serving in time:\n{worker.log_tail()}")
