"""CPU threads: the cores a process is given (affinity, cgroup quota) and torch's counts."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from search.settings import Settings
from workers.rerank.model import ModelSpec, RerankModel
from workers.threads import available_cores, cgroup_cpu_limit, default_threads


@pytest.mark.parametrize(
    ("files", "limit"),
    [
        ({"cpu.max": "max 100000\n"}, None),
        ({"cpu.max": "150000 100000\n"}, 1.5),
        ({"cpu.max": "400000 100000\n"}, 4.0),
        ({"cpu.max": "garbage\n"}, None),
        ({"cpu/cpu.cfs_quota_us": "200000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 2.0),
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ({}, None),
    ],
    ids=["v2-unlimited", "v2-1.5", "v2-4", "v2-malformed", "v1-2", "v1-unlimited", "none"],
)
def test_cgroup_cpu_quota_is_read_from_v2_or_v1(
    tmp_path: Path, files: dict[str, str], limit: float | None
) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert cgroup_cpu_limit(tmp_path) == limit


@pytest.mark.parametrize(
    ("affinity", "quota", "cores", "threads"),
    [
        (2, None, 2, 1),
        (1, None, 1, 1),
        (8, None, 8, 4),
        (8, "150000 100000", 2, 1),
        (16, "400000 100000", 4, 2),
        (2, "800000 100000", 2, 1),
    ],
)
def test_threads_default_to_half_the_cores_given(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    affinity: int,
    quota: str | None,
    cores: int,
    threads: int,
) -> None:
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(affinity)))
    if quota is not None:
        (tmp_path / "cpu.max").write_text(quota)
    assert available_cores(tmp_path) == cores
    assert default_threads(cores) == threads


def test_the_rerank_thread_setting_is_applied_at_load(
    test_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHELF_RERANK_THREADS", "3")
    spec = ModelSpec.from_settings(Settings(rerank_model=str(test_model_dir)))
    assert spec.threads == 3
    before = torch.get_num_threads()
    try:
        model = RerankModel(
            ModelSpec(str(test_model_dir), device="cpu", threads=3, allow_random_weights=True)
        )
        assert model.threads == 3 and torch.get_num_threads() == 3
        model.close()
        unset = RerankModel(ModelSpec(str(test_model_dir), device="cpu", allow_random_weights=True))
        assert unset.threads == default_threads() and torch.get_num_threads() == default_threads()
        unset.close()
    finally:
        torch.set_num_threads(before)


def test_a_fresh_process_fixes_torch_intra_and_inter_op_threads(test_model_dir: Path) -> None:
    import os
    import subprocess
    import sys

    code = (
        "import torch; from workers.rerank.model import ModelSpec, RerankModel; "
        f"m = RerankModel(ModelSpec({str(test_model_dir)!r}, device='cpu', threads=1, "
        "allow_random_weights=True)); "
        "m.score('q', ['p']); print(torch.get_num_threads(), torch.get_num_interop_threads())"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["1", "1"]
