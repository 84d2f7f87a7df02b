"""The production embedding model: ``BAAI/bge-m3`` (or any local Hugging Face encoder) loaded
through FlagEmbedding, dense vectors only.

Loading goes through FlagEmbedding (``BGEM3FlagModel`` for bge-m3, ``FlagModel`` for any other
encoder), the path the models are published for. Encoding is Shelf's own, as for the reranker
(``workers/rerank/model.py``): ``preprocess`` (prefix, tokenise, sort by length), ``predict`` (the
forward pass and pooling, nothing else) and ``postprocess`` (input order, L2 normalisation in
float32). FlagEmbedding's own ``encode`` runs the first batch twice to probe memory, which would
double the latency of a one-query call.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from search.errors import ModelUnavailable
from search.settings import Settings
from workers.embedding.model import WARM_UP_PASSAGE, l2_normalise, prepare_texts
from workers.rerank.model import resolve_device, resolve_model_dir
from workers.threads import default_threads, set_torch_threads

log = logging.getLogger(__name__)

Pooling = Literal["cls", "mean"]
SNAPSHOT_COMMIT = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class EmbedSpec:
    """Which embedding model to load and how (``SHELF_EMBED_*``)."""

    name: str  # hub id or local directory
    revision: str | None = None
    device: str = "auto"
    threads: int | None = None  # CPU threads; None: half the cores given (workers/threads.py)
    batch_size: int = 32
    max_length: int = 512  # tokens per text, prefix included
    max_chars: int = 400
    pooling: Literal["auto", "cls", "mean"] = "auto"
    query_prefix: str | None = None  # None: from the model (see resolve_recipe)
    passage_prefix: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> EmbedSpec:
        """The model the settings ask for."""
        return cls(
            name=settings.embed_model,
            revision=settings.embed_model_revision,
            device=settings.embed_device,
            threads=settings.embed_threads,
            batch_size=settings.embed_batch_size,
            max_length=settings.embed_max_length,
            max_chars=settings.embed_text_max_chars,
            pooling=settings.embed_pooling,
            query_prefix=settings.embed_query_prefix,
            passage_prefix=settings.embed_passage_prefix,
        )


@dataclass(frozen=True)
class Recipe:
    """How one model turns token states into a text's vector."""

    m3: bool  # bge-m3 (loaded through BGEM3FlagModel)
    pooling: Pooling
    query_prefix: str
    passage_prefix: str


def is_bge_m3(model_dir: Path, name: str) -> bool:
    """bge-m3 and its fine-tunes: they ship the ColBERT and sparse heads beside the encoder."""
    heads = (model_dir / "colbert_linear.pt").exists() and (model_dir / "sparse_linear.pt").exists()
    return heads or name.rstrip("/").lower().endswith("bge-m3")


def _sentence_transformers_recipe(model_dir: Path) -> tuple[Pooling | None, dict[str, str]]:
    """Pooling and prompts a sentence-transformers export declares (``modules.json``)."""
    pooling: Pooling | None = None
    modules = model_dir / "modules.json"
    if modules.exists():
        for module in json.loads(modules.read_text()):
            if module.get("type", "").endswith("Pooling"):
                config = json.loads((model_dir / module["path"] / "config.json").read_text())
                if config.get("pooling_mode_cls_token"):
                    pooling = "cls"
                elif config.get("pooling_mode_mean_tokens"):
                    pooling = "mean"
                else:
                    modes = sorted(
                        k for k, v in config.items() if k.startswith("pooling_mode") and v
                    )
                    raise ModelUnavailable(
                        f"the embedding model in {model_dir} pools with {modes}, which Shelf does "
                        "not implement: set SHELF_EMBED_POOLING=cls or mean if either fits it"
                    )
    prompts: dict[str, str] = {}
    st_config = model_dir / "config_sentence_transformers.json"
    if st_config.exists():
        prompts = json.loads(st_config.read_text()).get("prompts") or {}
    return pooling, prompts


def resolve_recipe(model_dir: Path, spec: EmbedSpec) -> Recipe:
    """Pooling and prefixes: the settings when given, else what the model declares
    (sentence-transformers ``modules.json`` / ``prompts``), else by family: e5 models mean-pool
    with ``query: `` / ``passage: `` (Wang et al. 2022, arXiv:2212.03533), bge-m3 and others
    take the CLS state without a prefix (Chen et al. 2024, arXiv:2402.03216)."""
    m3 = is_bge_m3(model_dir, spec.name)
    declared, prompts = (None, {}) if m3 else _sentence_transformers_recipe(model_dir)
    e5 = not m3 and "e5" in re.split(r"[-_/.]", f"{spec.name}/{model_dir.name}".lower())
    family: Pooling = "mean" if e5 else "cls"
    pooling: Pooling = spec.pooling if spec.pooling != "auto" else (declared or family)
    query = prompts.get("query", "query: " if e5 else "")
    passage = prompts.get("passage", prompts.get("document", "passage: " if e5 else ""))
    return Recipe(
        m3=m3,
        pooling=pooling,
        query_prefix=query if spec.query_prefix is None else spec.query_prefix,
        passage_prefix=passage if spec.passage_prefix is None else spec.passage_prefix,
    )


class FlagEmbedder:
    """A Hugging Face encoder's dense vectors: bge-m3 in production, any local encoder dir."""

    def __init__(self, spec: EmbedSpec) -> None:
        self.spec = spec
        self.model_dir = resolve_model_dir(spec.name, spec.revision, "SHELF_EMBED_MODEL")
        self.device = resolve_device(spec.device, "SHELF_EMBED_DEVICE")
        self.recipe = resolve_recipe(self.model_dir, spec)
        self.threads = spec.threads or default_threads()
        if self.device.startswith("cpu"):
            set_torch_threads(self.threads)
        # FlagEmbedding's object is kept: its __del__ moves its model (whose encoder Shelf runs)
        # to the CPU, which must not happen while Shelf still uses it.
        self._flag, self.tokenizer, self.encoder = self._load()
        self._dim = int(self.encoder.config.hidden_size)
        # Never more tokens than the model has positions for (8192 for bge-m3, 512 for XLM-R).
        model_limit = int(getattr(self.tokenizer, "model_max_length", spec.max_length))
        self.max_length = min(spec.max_length, model_limit)
        pad_id = self.tokenizer.pad_token_id
        self._pad_id = 0 if pad_id is None else int(pad_id)  # masked out either way
        self._tokenizer_lock = threading.Lock()
        log.info("embedding model loaded", extra={"model": self.model_id, "device": self.device})

    @classmethod
    def from_settings(cls, settings: Settings) -> FlagEmbedder:
        """Load ``SHELF_EMBED_MODEL`` with the other ``SHELF_EMBED_*`` settings."""
        return cls(EmbedSpec.from_settings(settings))

    def _load(self) -> tuple[Any, Any, Any]:
        from FlagEmbedding import BGEM3FlagModel, FlagModel

        common: dict[str, Any] = dict(
            use_fp16=self.device.startswith("cuda"),
            devices=[self.device],
            normalize_embeddings=True,
            batch_size=self.spec.batch_size,
            query_max_length=self.spec.max_length,
            passage_max_length=self.spec.max_length,
        )
        try:
            if self.recipe.m3:
                flag: Any = BGEM3FlagModel(str(self.model_dir), **common)
                encoder = flag.model.model  # the XLM-R encoder; the dense vector is its CLS
            else:
                flag = FlagModel(str(self.model_dir), pooling_method=self.recipe.pooling, **common)
                encoder = flag.model
        except (OSError, ValueError, KeyError) as exc:
            raise ModelUnavailable(
                f"SHELF_EMBED_MODEL={self.spec.name}: the embedding model in {self.model_dir} "
                f"could not be loaded ({exc}); point it at a directory holding a Hugging Face "
                "encoder (config.json, weights, tokenizer)"
            ) from exc
        encoder.eval()
        if self.device.startswith("cuda"):
            encoder.half()
        else:
            encoder.float()
        return flag, flag.tokenizer, encoder.to(self.device)

    @property
    def model_id(self) -> str:
        """``name@revision``: the revision asked for, else the hub snapshot's commit, else
        ``local`` for a directory."""
        revision = self.spec.revision
        if revision is None:
            commit = self.model_dir.name
            revision = commit if SNAPSHOT_COMMIT.match(commit) else "local"
        return f"{self.spec.name}@{revision}"

    @property
    def dim(self) -> int:
        """The encoder's hidden size (1024 for bge-m3)."""
        return self._dim

    def preprocess(self, texts: Sequence[str], prefix: str) -> list[list[int]]:
        """Token ids of ``prefix + text`` for each text, cut to ``max_length`` tokens (the
        setting, or the model's own limit when that is lower)."""
        prepared = [prefix + text for text in prepare_texts(texts, self.spec.max_chars)]
        if not prepared:
            return []
        with self._tokenizer_lock:  # a fast tokenizer's truncation setting is shared state
            encoded = self.tokenizer(prepared, truncation=True, max_length=self.max_length)
        return [list(ids) for ids in encoded["input_ids"]]

    def predict(self, batch: list[list[int]]) -> np.ndarray:
        """The forward pass of one padded batch, pooled: ``(len(batch), dim)`` float32."""
        import torch

        width = max(len(ids) for ids in batch)
        input_ids = torch.full((len(batch), width), self._pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, ids in enumerate(batch):
            input_ids[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
            attention_mask[row, : len(ids)] = 1
        input_ids, attention_mask = input_ids.to(self.device), attention_mask.to(self.device)
        with torch.inference_mode():
            hidden = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, return_dict=True
            ).last_hidden_state
            if self.recipe.pooling == "cls":
                pooled = hidden[:, 0]
            else:
                mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1)
        return np.asarray(pooled.float().cpu().numpy(), dtype=np.float32)

    def postprocess(self, pooled: np.ndarray) -> np.ndarray:
        """Unit-length rows (normalised in float32, also after an fp16 forward pass)."""
        return l2_normalise(pooled)

    def _encode(self, texts: Sequence[str], prefix: str) -> np.ndarray:
        ids = self.preprocess(texts, prefix)
        out = np.empty((len(ids), self._dim), dtype=np.float32)
        # Longest first, so each batch pads to texts of similar length.
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
        for start in range(0, len(order), self.spec.batch_size):
            rows = order[start : start + self.spec.batch_size]
            out[rows] = self.predict([ids[i] for i in rows])
        return self.postprocess(out)

    def embed_queries(
        self, texts: Sequence[str], languages: Sequence[str | None] | None = None
    ) -> np.ndarray:
        """Query vectors, ``(len(texts), dim)``, unit length."""
        return self._encode(texts, self.recipe.query_prefix)

    def embed_passages(
        self, texts: Sequence[str], languages: Sequence[str | None] | None = None
    ) -> np.ndarray:
        """Product-text vectors, ``(len(texts), dim)``, unit length."""
        return self._encode(texts, self.recipe.passage_prefix)

    def warm_up(self) -> None:
        """One query and one batch of product-length passages."""
        self.embed_queries(["water bottle"])
        self.embed_passages([WARM_UP_PASSAGE] * min(8, self.spec.batch_size))

    def close(self) -> None:
        """Drop the weights (and the GPU memory they hold)."""
        self.encoder = self._flag = None
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()
