"""Reranking throughput on a full-size random-weight bge-reranker-v2-m3, measured side by side.

1. plain ``FlagReranker.compute_score`` against Shelf's model path, on the same 64 pairs (fp32);
2. Shelf's path in fp32 against int8 (dynamic quantisation of the linear layers), on the CPU;
3. N concurrent requests (dynamic batching) against the same requests one after another.

Ends with ``RESULT shelf_vs_plain=<x> int8_vs_fp32=<y> dynamic_vs_sequential=<z>``.
Run: ``make bench`` or ``python -m bench.rerank_throughput [--pairs 64] [--requests 8]``.
On a GPU (``--device cuda``) the model runs in fp16 and the int8 step is skipped.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.common import hardware
from bench.full_size_model import full_size_model


def _product_texts(count: int) -> list[str]:
    from catalog.product import Product
    from catalog.readers import read_jsonl
    from catalog.samples import SAMPLE_CATALOG
    from catalog.text import rerank_text

    texts = [rerank_text(Product.model_validate(r.data)) for r in read_jsonl(SAMPLE_CATALOG)]
    return [texts[(i * 37) % len(texts)] for i in range(count)]  # spread over every locale


def _timed(label: str, pairs: int, run: Callable[[], object], repeats: int = 1) -> float:
    """Pairs/second of ``run``; with ``repeats`` > 1 (GPU) one untimed call comes first, so the
    first use of a shape (kernel selection, allocator growth) is not what gets measured."""
    if repeats > 1:
        run()
    print(f"  {label:<44}", end="", file=sys.stderr, flush=True)
    started = time.perf_counter()
    for _ in range(repeats):
        run()
    seconds = time.perf_counter() - started
    print(f"{pairs * repeats / seconds:8.2f} pairs/s  ({seconds:.1f} s)", file=sys.stderr)
    return pairs * repeats / seconds


def main(argv: list[str] | None = None) -> int:
    """Run the three comparisons and print the RESULT line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=Path(".shelf/bench-model"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--pairs", type=int, default=64, help="pairs per request (batch)")
    parser.add_argument("--requests", type=int, default=8, help="concurrent requests")
    parser.add_argument(
        "--request-pairs", type=int, default=16, help="pairs per concurrent request"
    )
    parser.add_argument("--rounds", type=int, default=2, help="alternations of step 3")
    parser.add_argument(
        "--repeats", type=int, help="timed calls per measurement (default 1 on CPU, 10 on GPU)"
    )
    args = parser.parse_args(argv)

    import logging

    from workers.rerank.model import ModelSpec, RerankModel

    # transformers' advice about tokenizer padding is noise here, as in the CLI.
    logging.getLogger("transformers.tokenization_utils_base").setLevel(logging.ERROR)
    print(hardware())
    model_dir = full_size_model(args.model_dir)
    cuda = args.device.startswith("cuda")
    repeats = args.repeats or (10 if cuda else 1)
    print(f"model: {model_dir} (bge-reranker-v2-m3 configuration, random weights)")
    from workers.rerank.model import default_token_budget

    print(
        f"Shelf's token budget on {args.device}: {default_token_budget(args.device)} tokens/batch"
    )
    query = "wireless noise cancelling headphones"
    texts = _product_texts(args.pairs)

    print(
        f"[1/3] {args.pairs} pairs, plain compute_score vs Shelf's path "
        f"({'fp16' if cuda else 'fp32'})"
    )
    # A speed benchmark: random weights allowed (their scores are never looked at).
    fp32 = RerankModel(
        ModelSpec(
            str(model_dir), device=args.device, batch_size=args.pairs, allow_random_weights=True
        )
    )
    fp32.warm_up()
    plain = fp32._reranker  # the same weights, called the way FlagEmbedding's users call it
    pairs = [(query, t) for t in texts]
    plain_rate = _timed(
        "FlagReranker.compute_score",
        len(pairs),
        lambda: plain.compute_score(pairs, normalize=False),
        repeats,
    )
    shelf_rate = _timed(
        "Shelf (tokenise, pack by budget, predict)",
        len(pairs),
        lambda: fp32.score(query, texts),
        repeats,
    )

    int8_rate = fp32_rate = shelf_rate
    if not cuda:
        print(f"[2/3] {args.pairs} pairs, Shelf's path fp32 vs int8")
        int8 = RerankModel(
            ModelSpec(
                str(model_dir),
                device="cpu",
                quantize="int8",
                batch_size=args.pairs,
                allow_random_weights=True,
            )  # fmt: skip
        )
        int8.warm_up()
        fp32_rate = _timed("fp32", len(pairs), lambda: fp32.score(query, texts))
        int8_rate = _timed("int8", len(pairs), lambda: int8.score(query, texts))
        fp32.close()
        served = int8  # the concurrency comparison runs on the CPU's production setting
    else:
        print("[2/3] skipped on a GPU (fp16 there; int8 is a CPU setting)")
        served = fp32

    n, size = args.requests, args.request_pairs
    print(
        f"[3/3] {n} requests of {size} pairs: one after another vs concurrent (dynamic batching), "
        f"alternated {args.rounds} times so drifting machine load hits both alike"
    )
    requests = [(f"{query} {i}", _product_texts(size * (i + 2))[-size:]) for i in range(n)]
    sequential_s = concurrent_s = 0.0
    with ThreadPoolExecutor(n) as pool:
        for _ in range(args.rounds):
            rate = _timed(
                "one after another", n * size, lambda: [served.score(*r) for r in requests], repeats
            )
            sequential_s += n * size / rate
            rate = _timed(
                "concurrent",
                n * size,
                lambda: list(pool.map(lambda r: served.score(*r), requests)),
                repeats,
            )
            concurrent_s += n * size / rate
    sequential, dynamic = 1 / sequential_s, 1 / concurrent_s
    served.close()

    int8_ratio = "na" if cuda else f"{int8_rate / fp32_rate:.2f}"  # int8 is a CPU setting
    print(
        f"RESULT shelf_vs_plain={shelf_rate / plain_rate:.2f} "
        f"int8_vs_fp32={int8_ratio} dynamic_vs_sequential={dynamic / sequential:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
