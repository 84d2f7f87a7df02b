"""Build tiny XLM-RoBERTa models with random weights, for tests and speed benchmarks only: a
cross-encoder (the reranker) and an encoder (the production embedding path). Each is marked
(``workers.random_weights``): Shelf refuses to rank with one unless
``SHELF_ALLOW_RANDOM_WEIGHTS=1``.

The cross-encoder has bge-reranker-v2-m3's architecture (XLMRobertaForSequenceClassification, one
logit) and loads through the same FlagReranker path; the encoder has bge-m3's (XLMRobertaModel)
and loads through FlagEmbedding's embedders. Every code path runs; only the outputs mean nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from catalog.readers import read_jsonl
from workers.random_weights import LEGACY_MARKER_FILE, mark_random_weights

if TYPE_CHECKING:
    from tokenizers import Tokenizer

SPECIAL_TOKENS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]


def catalog_texts(catalog: Path) -> Iterator[str]:
    """Every text field of a JSONL catalog, for training the tokenizer."""
    for record in read_jsonl(catalog):
        if record.data is None:
            continue
        for key in ("title", "brand", "category", "description"):
            value = record.data.get(key)
            if isinstance(value, str) and value:
                yield value
        for bullet in record.data.get("bullets") or []:
            if isinstance(bullet, str):
                yield bullet


def _train_tokenizer(texts: Iterable[str], vocab_size: int) -> Tokenizer:
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from tokenizers.processors import TemplateProcessing

    # BPE rather than XLM-R's unigram model: the unigram trainer is not deterministic, and the
    # same catalog and seed must give the same test model on every machine.
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.normalizer = normalizers.NFKC()
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    bos, eos = tokenizer.token_to_id("<s>"), tokenizer.token_to_id("</s>")
    # XLM-R's pair format: <s> query </s></s> passage </s>
    tokenizer.post_processor = TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", bos), ("</s>", eos)],
    )
    return tokenizer


def _xlmr_tokenizer(texts: Iterable[str], vocab_size: int) -> tuple[Tokenizer, Any]:
    """The trained BPE tokenizer, raw and wrapped as XLM-R's fast tokenizer."""
    from transformers import XLMRobertaTokenizerFast

    raw = _train_tokenizer(texts, vocab_size)
    tokenizer = XLMRobertaTokenizerFast(
        tokenizer_object=raw,
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
        model_max_length=512,
    )
    return raw, tokenizer


def _xlmr_config(raw: Tokenizer, hidden_size: int, layers: int) -> Any:
    from transformers import XLMRobertaConfig

    return XLMRobertaConfig(
        vocab_size=raw.get_vocab_size(),
        hidden_size=hidden_size,
        num_hidden_layers=layers,
        num_attention_heads=4,
        intermediate_size=hidden_size * 4,
        max_position_embeddings=514,
        type_vocab_size=1,
        num_labels=1,
        # Wider than BERT's 0.02 so random scores are spread out, not near-ties.
        initializer_range=0.2,
        pad_token_id=raw.token_to_id("<pad>"),
        bos_token_id=raw.token_to_id("<s>"),
        eos_token_id=raw.token_to_id("</s>"),
    )


def build_test_model(
    out_dir: Path,
    texts: Iterable[str],
    *,
    seed: int = 0,
    vocab_size: int = 8000,
    hidden_size: int = 64,
    layers: int = 2,
) -> Path:
    """Write a random-weight cross-encoder and its trained tokenizer to ``out_dir``, marked as
    random (``workers.random_weights``)."""
    import torch
    from transformers import XLMRobertaForSequenceClassification

    raw, tokenizer = _xlmr_tokenizer(texts, vocab_size)
    config = _xlmr_config(raw, hidden_size, layers)
    torch.manual_seed(seed)
    model = XLMRobertaForSequenceClassification(config)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    mark_random_weights(out_dir)
    (out_dir / LEGACY_MARKER_FILE).write_text(
        json.dumps({"warning": "random weights: scores are meaningless", "seed": seed}) + "\n"
    )
    return out_dir


def build_test_encoder(
    out_dir: Path,
    texts: Iterable[str],
    *,
    seed: int = 0,
    m3: bool = False,
    pooling: str | None = None,
    prompts: dict[str, str] | None = None,
    vocab_size: int = 8000,
    hidden_size: int = 64,
    layers: int = 2,
) -> Path:
    """Write a random-weight XLM-R *encoder* (an embedding model) and its tokenizer to ``out_dir``.

    ``m3`` adds bge-m3's ColBERT and sparse heads (so it loads as bge-m3 does); ``pooling``
    (``cls``/``mean``) and ``prompts`` write a sentence-transformers ``modules.json``, Pooling
    config and ``config_sentence_transformers.json``, as exported embedding models ship them.
    """
    import torch
    from transformers import XLMRobertaModel

    raw, tokenizer = _xlmr_tokenizer(texts, vocab_size)
    config = _xlmr_config(raw, hidden_size, layers)
    torch.manual_seed(seed)
    model = XLMRobertaModel(config, add_pooling_layer=False)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    if m3:
        colbert, sparse = torch.nn.Linear(hidden_size, hidden_size), torch.nn.Linear(hidden_size, 1)
        torch.save(colbert.state_dict(), out_dir / "colbert_linear.pt")
        torch.save(sparse.state_dict(), out_dir / "sparse_linear.pt")
    write_sentence_transformers_config(out_dir, pooling=pooling, prompts=prompts)
    mark_random_weights(out_dir)
    (out_dir / LEGACY_MARKER_FILE).write_text(
        json.dumps({"warning": "random weights: vectors are meaningless", "seed": seed}) + "\n"
    )
    return out_dir


def write_sentence_transformers_config(
    model_dir: Path, *, pooling: str | None = None, prompts: dict[str, str] | None = None
) -> None:
    """What a sentence-transformers export declares beside the weights: ``modules.json`` with a
    Pooling module (``cls``/``mean``/``max``), and the query/passage ``prompts``."""
    if pooling is not None:
        modules = [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling",
             "type": "sentence_transformers.models.Pooling"},
        ]  # fmt: skip
        (model_dir / "modules.json").write_text(json.dumps(modules, indent=2) + "\n")
        (model_dir / "1_Pooling").mkdir(exist_ok=True)
        pooling_config = {
            "pooling_mode_cls_token": pooling == "cls",
            "pooling_mode_mean_tokens": pooling == "mean",
            "pooling_mode_max_tokens": pooling == "max",
        }
        (model_dir / "1_Pooling" / "config.json").write_text(json.dumps(pooling_config) + "\n")
    if prompts is not None:
        st_config = {"prompts": prompts, "default_prompt_name": None}
        (model_dir / "config_sentence_transformers.json").write_text(json.dumps(st_config) + "\n")
