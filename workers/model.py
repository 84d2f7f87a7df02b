"""The reranking model: one place that loads the cross-encoder and scores pairs with it.

The in-process reranker and (in production) the Celery task both call this, so there is one
scoring path to test and to measure.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlparse

from search.errors import ModelUnavailable
from search.settings import Settings

log = logging.getLogger(__name__)

HUB_PROBE_SECONDS = 3.0


@dataclass(frozen=True)
class ModelSpec:
    """Which model to load and how."""

    name: str  # hub id or local directory
    revision: str | None = None
    device: str = "auto"
    max_length: int = 512
    batch_size: int = 64

    @classmethod
    def from_settings(cls, settings: Settings) -> ModelSpec:
        """The model the settings ask for."""
        return cls(
            name=settings.rerank_model,
            revision=settings.rerank_model_revision,
            device=settings.rerank_device,
            max_length=settings.rerank_max_length,
            batch_size=settings.rerank_batch_size,
        )


def resolve_device(device: str) -> str:
    """``auto`` becomes ``cuda:0`` when a GPU is present, else ``cpu``."""
    import torch

    if device != "auto":
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ModelUnavailable(
                f"SHELF_RERANK_DEVICE={device} but no CUDA device is visible; "
                "use SHELF_RERANK_DEVICE=auto or cpu"
            )
        return device
    return "cuda:0" if torch.cuda.is_available() else "cpu"


def _hub_reachable() -> bool:
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    host = urlparse(endpoint).hostname or "huggingface.co"
    try:
        with socket.create_connection((host, 443), timeout=HUB_PROBE_SECONDS):
            return True
    except OSError:
        return False


def resolve_model_dir(name: str, revision: str | None = None) -> Path:
    """A local directory holding the model: ``name`` itself, the hub cache, or a fresh download.

    Fails fast, with what to do, when the model is neither local nor cached and the hub cannot be
    reached (hub clients otherwise retry for about a minute).
    """
    local = Path(name).expanduser()
    if local.is_dir():
        if not (local / "config.json").exists():
            raise ModelUnavailable(
                f"SHELF_RERANK_MODEL={name} is a directory without config.json: point it at a "
                "directory holding a Hugging Face model (config.json, weights, tokenizer)"
            )
        return local
    if name.startswith((".", "/", "~")) or name.count("/") != 1:
        raise ModelUnavailable(
            f"SHELF_RERANK_MODEL={name} is neither a local directory nor a hub id like "
            "BAAI/bge-reranker-v2-m3"
        )
    from huggingface_hub import snapshot_download
    from huggingface_hub.utils import HfHubHTTPError, LocalEntryNotFoundError

    try:
        return Path(snapshot_download(name, revision=revision, local_files_only=True))
    except (LocalEntryNotFoundError, OSError, ValueError):
        pass
    if os.environ.get("HF_HUB_OFFLINE") == "1" or not _hub_reachable():
        raise ModelUnavailable(
            f"SHELF_RERANK_MODEL={name} could not be loaded: it is not in the local Hugging Face "
            "cache and the hub cannot be reached (offline?). Download it where there is network "
            f"(`huggingface-cli download {name} --local-dir DIR`) and set SHELF_RERANK_MODEL=DIR, "
            "a local directory holding the model"
        )
    try:
        return Path(snapshot_download(name, revision=revision))
    except (HfHubHTTPError, OSError, ValueError) as exc:
        raise ModelUnavailable(
            f"SHELF_RERANK_MODEL={name} could not be downloaded ({exc}); set SHELF_RERANK_MODEL "
            "to a local directory holding the model"
        ) from exc


class RerankModel:
    """A loaded cross-encoder: ``score(query, passages)`` gives one relevance logit per passage."""

    def __init__(self, spec: ModelSpec) -> None:
        from FlagEmbedding import FlagReranker

        self.spec = spec
        self.model_dir = resolve_model_dir(spec.name, spec.revision)
        self.device = resolve_device(spec.device)
        try:
            self._reranker = FlagReranker(
                str(self.model_dir),
                use_fp16=self.device.startswith("cuda"),
                devices=[self.device],
                max_length=spec.max_length,
                batch_size=spec.batch_size,
            )
        except (OSError, ValueError, KeyError) as exc:
            raise ModelUnavailable(
                f"the reranking model in {self.model_dir} could not be loaded: {exc}"
            ) from exc
        # FlagReranker moves the model to its device and mutates state on every call.
        self._lock = threading.Lock()
        log.info("rerank model loaded", extra={"model": spec.name, "device": self.device})

    @property
    def model_id(self) -> str:
        """Identifies the weights for cache keys: name plus revision."""
        return f"{self.spec.name}@{self.spec.revision or 'default'}"

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        """Raw relevance logits of (query, passage) pairs, in the passages' order."""
        if not passages:
            return []
        pairs = [(query, passage) for passage in passages]
        with self._lock:
            scores = self._reranker.compute_score(pairs, normalize=False)
        return [float(s) for s in scores]


def load_model(settings: Settings) -> RerankModel:
    """Load ``SHELF_RERANK_MODEL``; fall back to ``SHELF_RERANK_FALLBACK_MODEL`` only if set.

    The fallback exists for the offline demo: it is announced loudly, since a test model's scores
    are meaningless.
    """
    spec = ModelSpec.from_settings(settings)
    try:
        return RerankModel(spec)
    except ModelUnavailable as exc:
        fallback = settings.rerank_fallback_model
        if fallback is None:
            raise
        log.warning(
            "%s\n"
            "!!! FALLING BACK to the local test model at %s: it has RANDOM WEIGHTS, so its rerank "
            "scores are MEANINGLESS. Use it to try the pipeline, never to judge relevance. !!!",
            exc,
            fallback,
        )
        return RerankModel(replace(spec, name=str(fallback), revision=None))
