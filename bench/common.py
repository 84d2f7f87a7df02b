"""What every benchmark prints first: the hardware the numbers came from."""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

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
    built and the embedded index written under ``root``; ``extra`` adds SHELF_ settings."""
    from catalog.ingest import validate
    from catalog.product import Product
    from catalog.readers import read_jsonl
    from catalog.samples import SAMPLE_CATALOG
    from search.recall.embedded import EmbeddedRecall
    from workers.test_model import build_test_model, catalog_texts

    model_dir = build_test_model(root / "model", catalog_texts(SAMPLE_CATALOG), seed=0)
    recall = EmbeddedRecall(root / "data" / "index")
    recall.index([p for p in validate(read_jsonl(SAMPLE_CATALOG)) if isinstance(p, Product)])
    recall.close()
    return dict(
        os.environ,
        SHELF_DATA_DIR=str(root / "data"),
        SHELF_RERANK_MODEL=str(model_dir),
        SHELF_RERANK_DEVICE="cpu",
        SHELF_SCORE_CACHE="memory",
        TOKENIZERS_PARALLELISM="false",
        **extra,
    )
