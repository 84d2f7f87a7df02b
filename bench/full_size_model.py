"""A random-weight cross-encoder with bge-reranker-v2-m3's exact configuration, for timing.

24 layers, hidden 1024, 16 heads, FFN 4096, vocabulary 250,002, 8,194 positions: it costs what
the real model costs per token. Its tokenizer is the test model's (trained on the sample
catalog), so token counts are realistic for product text; its scores mean nothing, and it is
marked so (``workers.random_weights``): loading it needs ``SHELF_ALLOW_RANDOM_WEIGHTS=1``.
"""

from __future__ import annotations

import sys
from pathlib import Path

BGE_RERANKER_V2_M3 = {
    "vocab_size": 250002,
    "hidden_size": 1024,
    "num_hidden_layers": 24,
    "num_attention_heads": 16,
    "intermediate_size": 4096,
    "max_position_embeddings": 8194,
    "type_vocab_size": 1,
    "layer_norm_eps": 1e-5,
    "num_labels": 1,
}


def full_size_model(out_dir: Path) -> Path:
    """Build (once) and return the directory of the full-size random-weight model, marked."""
    from workers.random_weights import mark_random_weights

    if (out_dir / "config.json").exists():
        mark_random_weights(out_dir)  # one built before the mark existed gets it too
        return out_dir
    import torch
    from transformers import AutoTokenizer, XLMRobertaConfig, XLMRobertaForSequenceClassification

    from catalog.samples import SAMPLE_CATALOG
    from workers.tiny_model import build_test_model, catalog_texts

    print(f"building the full-size random-weight model in {out_dir} (once) ...", file=sys.stderr)
    small = build_test_model(out_dir / "tokenizer", catalog_texts(SAMPLE_CATALOG), seed=0)
    tokenizer = AutoTokenizer.from_pretrained(small)
    config = XLMRobertaConfig(
        **BGE_RERANKER_V2_M3,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    model = XLMRobertaForSequenceClassification(config)
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    mark_random_weights(out_dir)
    return out_dir
