"""The on-disk embedding cache: vectors by (model, text hash), shared across processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from search.embedding.cache import LOOKUP_CHUNK, EmbeddingCache


def test_vectors_come_back_by_model_and_hash_only(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "e.db")
    cache.put_many("m1", {"h1": [0.5, -0.5], "h2": [1.0, 0.0]})
    assert cache.get_many("m1", ["h2", "missing", "h1"]) == {"h2": [1.0, 0.0], "h1": [0.5, -0.5]}
    assert cache.get_many("m2", ["h1"]) == {}  # another model's vectors are never served


def test_a_second_handle_on_the_same_file_sees_what_the_first_stored(tmp_path: Path) -> None:
    writer, reader = EmbeddingCache(tmp_path / "e.db"), EmbeddingCache(tmp_path / "e.db")
    writer.put_many("m", {"h": [0.25]})
    assert reader.get_many("m", ["h"]) == {"h": [0.25]}


def test_lookups_larger_than_one_statement_find_everything(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "e.db")
    hashes = [f"h{i}" for i in range(LOOKUP_CHUNK * 2 + 7)]
    cache.put_many("m", {h: [float(i)] for i, h in enumerate(hashes)})
    found = cache.get_many("m", hashes + hashes[:3])
    assert len(found) == len(hashes)
    assert found[hashes[-1]] == pytest.approx([float(len(hashes) - 1)])
