"""`shelf make-test-model`: the tiny random-weight cross-encoder of the tests and the speed
benchmarks (marked: Shelf ranks with it only under ``SHELF_ALLOW_RANDOM_WEIGHTS=1``)."""

from __future__ import annotations

import argparse

from search.cli.common import emit
from search.settings import Settings


def cmd_make_test_model(args: argparse.Namespace, settings: Settings) -> int:
    """Build the tiny random-weight cross-encoder used by tests and speed benchmarks."""
    from workers.tiny_model import build_test_model, catalog_texts

    out = build_test_model(args.dir, catalog_texts(args.catalog), seed=args.seed)
    emit(
        args,
        {"model_dir": str(out), "seed": args.seed},
        f"test model written to {out} (random weights: its scores are meaningless; Shelf loads "
        "it only with SHELF_ALLOW_RANDOM_WEIGHTS=1, for tests and speed benchmarks)",
    )
    return 0
