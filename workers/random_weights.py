"""The mark every random-weight model Shelf builds carries, so none can rank outside tests.

``shelf make-test-model``, the tests' encoders and the rerank benchmark's full-size model have
random weights: every code path runs, and every score means nothing. Each carries
``"shelf_random_weights": true`` in its ``config.json`` (transformers keeps unknown keys when it
loads and saves a config, so the mark travels with the weights). Test models built before the
mark existed are known by the file ``SHELF_TEST_MODEL.json`` beside them.
"""

from __future__ import annotations

import json
from pathlib import Path

RANDOM_WEIGHTS_KEY = "shelf_random_weights"
LEGACY_MARKER_FILE = "SHELF_TEST_MODEL.json"


def mark_random_weights(model_dir: Path) -> None:
    """Add the mark to ``model_dir``'s ``config.json`` (idempotent)."""
    path = model_dir / "config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    if config.get(RANDOM_WEIGHTS_KEY) is not True:
        config[RANDOM_WEIGHTS_KEY] = True
        path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def has_random_weights(model_dir: Path) -> bool:
    """Whether the model in ``model_dir`` was built with random weights by Shelf."""
    if (model_dir / LEGACY_MARKER_FILE).exists():
        return True
    try:
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False  # no readable config: loading it fails loudly on its own
    return isinstance(config, dict) and config.get(RANDOM_WEIGHTS_KEY) is True
