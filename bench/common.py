"""What the benchmarks share: the hardware line they print first, and a real `shelf serve` of
the sample catalog (also used by the tests that need a real server)."""

from __future__ import annotations

import os
import platform
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16")


def hardware() -> str:
    """CPU model, cores, the flags that change int8/bf16 speed, and the GPU if any."""
    model, flags = platform.processor() or "unknown CPU", set()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        text = cpuinfo.read_text()
        if found := re.search(r"^model name\s*:\s*(.+)$", text, re.M):
            model = found.group(1).strip()
        if found := re.search(r"^flags\s*:\s*(.+)$", text, re.M):
            flags = set(found.group(1).split())
    gpu = "none"
    try:
        import torch

        if torch.cuda.is_available():
            gpu = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    present = [flag for flag in FLAGS if flag in flags] or ["none of " + ",".join(FLAGS)]
    return f"CPU: {model}, {os.cpu_count()} cores; flags: {' '.join(present)}; GPU: {gpu}"


def sample_server_env(root: Path, **extra: str) -> dict[str, str]:
    """Environment for a `shelf serve` of the sample catalog with the tiny model: the model
    built and the embedded index written under ``root``; ``extra`` adds SHELF_ settings. The
    tiny model has random weights, so the server is allowed them: these benchmarks measure
    speed, never relevance."""
    from catalog.ingest import validate
    from catalog.product import Product
    from catalog.readers import read_jsonl
    from catalog.samples import SAMPLE_CATALOG
    from search.recall.embedded.backend import EmbeddedRecall
    from workers.tiny_model import build_test_model, catalog_texts

    model_dir = build_test_model(root / "model", catalog_texts(SAMPLE_CATALOG), seed=0)
    recall = EmbeddedRecall(root / "data" / "index")
    recall.index([p for p in validate(read_jsonl(SAMPLE_CATALOG)) if isinstance(p, Product)])
    recall.close()
    return dict(
        os.environ,
        SHELF_DATA_DIR=str(root / "data"),
        SHELF_RERANK_MODEL=str(model_dir),
        SHELF_RERANK_DEVICE="cpu",
        SHELF_ALLOW_RANDOM_WEIGHTS="1",
        SHELF_SCORE_CACHE="memory",
        TOKENIZERS_PARALLELISM="false",
        **extra,
    )


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0-1) of ``values``, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """One `shelf serve` subprocess on a free loopback port, ready (``/readyz`` 200) when made;
    its JSON logs go to ``log_path``."""

    def __init__(
        self,
        env: dict[str, str],
        log_path: Path,
        *,
        loglevel: str = "WARNING",
        ready_timeout_s: float = 120,
    ) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "search.cli.main", "serve", "--port", str(self.port),
             "--loglevel", loglevel],
            env=env, stdout=self._log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + ready_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"shelf serve exited: see {log_path}\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.base}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.process.kill()
        raise SystemExit(
            f"shelf serve was not ready in {ready_timeout_s:.0f} s: see {log_path}\n"
            + self.log_tail()
        )

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the server's log."""
        return self.log_path.read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        """Terminate and wait."""
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:  # an overloaded server still draining its backlog
            self.process.kill()
            self.process.wait()
        self._log.close()
