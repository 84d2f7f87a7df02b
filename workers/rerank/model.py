"""The reranking model: one place that loads the cross-encoder and scores pairs with it.

The in-process reranker and (in production) the Celery task both call this, so there is one
scoring path to test and to measure.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import warnings
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from search.errors import ConfigError, ModelMissing, ModelUnavailable, RandomWeightsRefused
from search.settings import Settings
from workers.batching import DynamicBatcher
from workers.random_weights import has_random_weights
from workers.threads import default_threads, set_torch_threads

log = logging.getLogger(__name__)

HUB_PROBE_SECONDS = 3.0


@dataclass(frozen=True)
class ModelSpec:
    """Which model to load and how."""

    name: str  # hub id or local directory
    revision: str | None = None
    device: str = "auto"
    max_length: int = 512
    batch_size: int = 64  # most pairs in one forward pass
    token_budget: int | None = None  # most tokens (padding included) per forward pass; None: auto
    quantize: str = "none"  # "int8": dynamic quantisation of the linear layers (CPU only)
    max_queued_pairs: int = 16384  # a memory ceiling; the queue is limited in time first
    threads: int | None = None  # torch CPU threads; None: half the cores given (workers/threads)
    allow_random_weights: bool = False  # tests and speed benchmarks only

    @classmethod
    def from_settings(cls, settings: Settings) -> ModelSpec:
        """The model the settings ask for."""
        return cls(
            name=settings.rerank_model,
            revision=settings.rerank_model_revision,
            device=settings.rerank_device,
            max_length=settings.rerank_max_length,
            batch_size=settings.rerank_batch_size,
            token_budget=settings.rerank_token_budget,
            quantize=settings.rerank_quantize,
            max_queued_pairs=settings.rerank_max_queued_pairs,
            threads=settings.rerank_threads,
            allow_random_weights=settings.allow_random_weights,
        )


def resolve_device(device: str, setting: str = "SHELF_RERANK_DEVICE") -> str:
    """``auto`` becomes ``cuda:0`` when a GPU is present, else ``cpu``; ``setting`` is the
    variable the error names (``SHELF_EMBED_DEVICE`` for the embedding model)."""
    import torch

    if device != "auto":
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ModelUnavailable(
                f"{setting}={device} but no CUDA device is visible; use {setting}=auto or cpu"
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


def resolve_model_dir(
    name: str, revision: str | None = None, setting: str = "SHELF_RERANK_MODEL"
) -> Path:
    """A local directory holding the model: ``name`` itself, the hub cache, or a fresh download.

    Fails fast, with what to do, when the model is neither local nor cached and the hub cannot be
    reached (hub clients otherwise retry for about a minute): ``ModelMissing`` when it is not
    here and cannot be fetched, ``ModelUnavailable`` when the setting cannot name a model.
    ``setting`` is the variable the errors name (``SHELF_EMBED_MODEL`` for the embedding model).
    """
    local = Path(name).expanduser()
    if local.is_dir():
        if not (local / "config.json").exists():
            raise ModelUnavailable(
                f"{setting}={name} is a directory without config.json: point it at a "
                "directory holding a Hugging Face model (config.json, weights, tokenizer)"
            )
        return local
    if name.startswith((".", "/", "~")) or name.count("/") != 1:
        raise ModelUnavailable(
            f"{setting}={name} is neither a local directory nor a hub id like "
            "organisation/name (BAAI/bge-reranker-v2-m3, BAAI/bge-m3)"
        )
    from huggingface_hub import snapshot_download
    from huggingface_hub.utils import HfHubHTTPError, LocalEntryNotFoundError

    try:
        return Path(snapshot_download(name, revision=revision, local_files_only=True))
    except (LocalEntryNotFoundError, OSError, ValueError):
        pass
    if os.environ.get("HF_HUB_OFFLINE") == "1" or not _hub_reachable():
        raise ModelMissing(
            f"{setting}={name} could not be loaded: it is not in the local Hugging Face "
            "cache and the hub cannot be reached (offline?). Download it where there is network "
            f"(`huggingface-cli download {name} --local-dir DIR`) and set {setting}=DIR, "
            "a local directory holding the model"
        )
    try:
        return Path(snapshot_download(name, revision=revision))
    except (HfHubHTTPError, OSError, ValueError) as exc:
        raise ModelMissing(
            f"{setting}={name} could not be downloaded ({exc}); set {setting} to a "
            "local directory holding the model"
        ) from exc


def refuse_random_weights(model_dir: Path, spec: ModelSpec) -> None:
    """``RandomWeightsRefused`` for a model Shelf built with random weights, unless the spec
    allows them (``SHELF_ALLOW_RANDOM_WEIGHTS=1``: tests and speed benchmarks). Every reranker
    load, in-process or in a Celery worker, passes here: no random model ranks a shopper's
    results."""
    if spec.allow_random_weights or not has_random_weights(model_dir):
        return
    raise RandomWeightsRefused(
        f"the reranking model {spec.name} has random weights (built by `shelf make-test-model` "
        "or a benchmark): its scores mean nothing, so Shelf will not rank with it. Set "
        "SHELF_RERANK_MODEL to a real model (BAAI/bge-reranker-v2-m3 or a local directory "
        "holding it), or leave it unset to search without the cross-encoder; tests and speed "
        "benchmarks set SHELF_ALLOW_RANDOM_WEIGHTS=1"
    )


def default_token_budget(device: str) -> int:
    """Tokens per forward pass: a GPU wants large batches; a CPU runs small ones fastest.

    Measured with bench/rerank_throughput.py's model on a 2-core AVX-512 CPU: packed batches of
    1-2k tokens ran 8 requests about 1.4x faster than batches of 16k (cache-resident activations).
    """
    return 16384 if device.startswith("cuda") else 2048


def model_id_of(name: str, revision: str | None) -> str:
    """The id scores are cached under: the model's name and revision."""
    return f"{name}@{revision or 'default'}"


class RerankModel:
    """A loaded cross-encoder: ``score(query, passages)`` gives one relevance logit per passage.

    Loading goes through ``FlagReranker`` (the FlagEmbedding path the model is published for);
    scoring is Shelf's own: ``preprocess`` (tokenise like FlagReranker does), then packing by
    token budget in a dynamic batcher, ``predict`` (the forward pass, nothing else), and the
    scores back in input order.
    """

    def __init__(self, spec: ModelSpec) -> None:
        from FlagEmbedding import FlagReranker

        self.spec = spec
        self.model_dir = resolve_model_dir(spec.name, spec.revision)
        refuse_random_weights(self.model_dir, spec)
        self.device = resolve_device(spec.device)
        if spec.quantize == "int8" and not self.device.startswith("cpu"):
            raise ConfigError(
                f"SHELF_RERANK_QUANTIZE=int8 is for the CPU; on {self.device} the model runs in "
                "fp16: unset SHELF_RERANK_QUANTIZE or set SHELF_RERANK_DEVICE=cpu"
            )
        # Before the weights load: torch fixes its inter-op pool at the first parallel work.
        self.threads = spec.threads or default_threads()
        if self.device.startswith("cpu"):
            set_torch_threads(self.threads)
        try:
            reranker = FlagReranker(
                str(self.model_dir),
                use_fp16=self.device.startswith("cuda"),
                devices=[self.device],
                max_length=spec.max_length,
                batch_size=spec.batch_size,
            )
        except Exception as exc:  # present but broken: transformers raises all kinds for that
            raise ModelUnavailable(
                f"the reranking model in {self.model_dir} could not be loaded "
                f"({type(exc).__name__}: {exc}): it is there but incomplete or corrupt; "
                "download it again, or set SHELF_RERANK_MODEL to a directory holding the "
                "whole model (config.json, weights, tokenizer)"
            ) from exc
        self._reranker = reranker
        self.tokenizer = reranker.tokenizer
        self.model = _prepare(reranker.model, self.device, spec.quantize)
        # int8 quantisation returns a copy: point FlagReranker at it, or the fp32 weights stay
        # referenced (2.2 GB for bge-reranker-v2-m3). FlagReranker itself is kept, since its
        # __del__ moves ``model`` to the CPU, which must happen to the model Shelf scores with.
        reranker.model = self.model
        # FlagReranker's own default: the query gets at most 3/4 of the sequence.
        self.query_max_length = spec.max_length * 3 // 4
        self._pair_specials = self.tokenizer.num_special_tokens_to_add(pair=True)
        self._pad_id = self.tokenizer.pad_token_id
        self._tokenizer_lock = threading.Lock()
        self.token_budget = spec.token_budget or default_token_budget(self.device)
        self.batcher = DynamicBatcher(
            self.predict,
            token_budget=self.token_budget,
            max_pairs=spec.batch_size,
            max_queued_pairs=spec.max_queued_pairs,
        )
        log.info(
            "rerank model loaded",
            extra={"model": spec.name, "device": self.device, "threads": self.threads},
        )

    @property
    def model_id(self) -> str:
        """Identifies the weights for cache keys: name plus revision."""
        return model_id_of(self.spec.name, self.spec.revision)

    def preprocess(self, query: str, passages: Sequence[str]) -> list[list[int]]:
        """Token ids of each (query, passage) pair, truncated the way FlagReranker truncates."""
        # A fast tokenizer's truncation setting is state: concurrent calls must take turns
        # ("Already borrowed" otherwise). It is short next to the forward pass they overlap.
        with self._tokenizer_lock:
            query_ids = self.tokenizer(
                query, add_special_tokens=False, truncation=True, max_length=self.query_max_length
            )["input_ids"]
            room = max(self.spec.max_length - len(query_ids) - self._pair_specials, 1)
            passage_ids = self.tokenizer(
                list(passages), add_special_tokens=False, truncation=True, max_length=room
            )["input_ids"]
        build = self.tokenizer.build_inputs_with_special_tokens
        return [build(query_ids, ids) for ids in passage_ids]

    def predict(self, batch: list[list[int]]) -> list[float]:
        """The forward pass of one padded batch: one logit per sequence."""
        import torch

        width = max(len(ids) for ids in batch)
        input_ids = torch.full((len(batch), width), self._pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, ids in enumerate(batch):
            input_ids[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
            attention_mask[row, : len(ids)] = 1
        with torch.inference_mode():
            logits = self.model(
                input_ids=input_ids.to(self.device),
                attention_mask=attention_mask.to(self.device),
                return_dict=True,
            ).logits
        return [float(x) for x in logits.view(-1).float().cpu().tolist()]

    def submit(
        self, query: str, passages: Sequence[str], deadline: float | None = None
    ) -> Future[list[float]]:
        """Tokenise here, score in the batcher: a future of the logits in the passages' order.

        ``deadline`` (``time.monotonic()``) is when the caller stops waiting. ``Overloaded`` is
        raised before any tokenising when the model's queue could not score the pairs by then;
        pairs still queued at the deadline are dropped unscored (the future fails).
        """
        if not passages:
            return self.batcher.submit([])
        self.batcher.check_room(len(passages), deadline)
        return self.batcher.submit(self.preprocess(query, passages), deadline)

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        """Raw relevance logits of (query, passage) pairs, in the passages' order.

        Safe to call from many threads at once: their pairs share batches.
        """
        return self.submit(query, passages).result()

    def warm_up(self) -> None:
        """Run one representative batch, so the first real request does not pay for it."""
        passage = "Stainless steel water bottle, 750 ml, keeps drinks cold for 24 hours. " * 4
        self.score("water bottle", [passage] * min(8, self.spec.batch_size))
        # The first pass pays one-time costs; the queue's time limit needs the warm rate.
        self.batcher.forget_rate()
        for _ in range(2):
            self.score("water bottle", [passage] * self.spec.batch_size)

    def close(self) -> None:
        """Stop the inference thread."""
        self.batcher.close()


def _prepare(model: Any, device: str, quantize: str) -> Any:
    """Move the model to its device once: fp16 on GPU, optionally int8 linear layers on CPU."""
    import torch

    model.eval()
    if device.startswith("cuda"):
        model.half()
    elif quantize == "int8":
        # Dynamic quantisation: int8 weights for every Linear, activations quantised per batch
        # (fbgemm; VNNI where the CPU has it). torch deprecates this API in favour of torchao,
        # whose CPU int8 path is not a drop-in yet; the warning is expected, so it is muted here.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "torch.ao.quantization is deprecated")
            warnings.filterwarnings("ignore", "torch.quantize_per_tensor, torch.quantize_per")
            model = torch.ao.quantization.quantize_dynamic(
                model, {torch.nn.Linear}, dtype=torch.qint8
            )
    return model.to(device)


def load_model(settings: Settings) -> RerankModel:
    """Load ``SHELF_RERANK_MODEL``; when it is missing here (``ModelMissing``: not downloaded,
    offline) and ``SHELF_RERANK_FALLBACK_MODEL`` is set, load that one instead, with a warning.

    A model that is present but broken is never replaced: its error is raised. The fallback goes
    through the same checks, so a random-weight fallback is refused like any other.
    """
    spec = ModelSpec.from_settings(settings)
    try:
        return RerankModel(spec)
    except ModelMissing as exc:
        fallback = settings.rerank_fallback_model
        if fallback is None:
            raise
        log.warning("%s; reranking with SHELF_RERANK_FALLBACK_MODEL=%s instead", exc, fallback)
        return RerankModel(replace(spec, name=str(fallback), revision=None))
