"""The embedded backend's own dense-leg behaviour: other processes write its vector store, and
an index that predates the store gets one."""

from __future__ import annotations

import random
import threading
from pathlib import Path

import numpy as np
import pytest

from search.errors import EmbeddingMismatch
from search.recall import SearchFilters, StoredVector
from search.recall.embedded import dense as dense_module
from search.recall.embedded.backend import EmbeddedRecall
from search.recall.embedded.vectors import DB_NAME
from search.recall.factory import make_recall
from search.settings import Settings
from tests.conftest import make_product

MODEL = "test-model@1"
DIM = 8


def _vector(seed: int) -> list[float]:
    vector = np.random.default_rng(seed).standard_normal(DIM)
    return (vector / np.linalg.norm(vector)).tolist()


def _embed_all(recall: EmbeddedRecall, seed: int) -> int:
    pending = recall.pending_vectors(MODEL, limit=100_000)
    vectors = [
        StoredVector(p.product_id, p.text_hash, _vector(seed + i)) for i, p in enumerate(pending)
    ]
    return recall.put_vectors(MODEL, vectors)


def _dense(
    recall: EmbeddedRecall, query: list[float], **filters: object
) -> list[tuple[str, float]]:
    legs = recall.search_legs(
        None,
        query,
        limit=50,
        filters=SearchFilters(**filters),  # type: ignore[arg-type]
    )
    return [(hit.product.id, round(hit.dense_score or 0.0, 5)) for hit in legs.dense]


def test_vectors_written_by_another_instance_are_seen_by_a_searching_one(tmp_path: Path) -> None:
    searcher = EmbeddedRecall(tmp_path / "index")
    searcher.index([make_product(id=pid, title=f"Product {pid}") for pid in "abc"])
    assert _dense(searcher, _vector(0)) == []  # the searcher has loaded its (empty) dense index
    embedder = EmbeddedRecall(tmp_path / "index")  # e.g. `shelf embed` in another process
    assert _embed_all(embedder, seed=1) == 3
    assert sorted(pid for pid, _ in _dense(searcher, _vector(0))) == ["a", "b", "c"]
    embedder.close()
    searcher.close()


@pytest.mark.parametrize("compact_min_dead", [10_000, 1])
def test_incremental_refresh_answers_as_a_fresh_load_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compact_min_dead: int
) -> None:
    """A seeded random mix of upserts, text changes, deletes, vector batches, and full reloads
    (committed and aborted): after each, a long-lived searcher answers as a fresh instance."""
    monkeypatch.setattr(dense_module, "COMPACT_MIN_DEAD", compact_min_dead)
    rng = random.Random(7)
    writer = EmbeddedRecall(tmp_path / "index")
    searcher = EmbeddedRecall(tmp_path / "index")
    ids = [f"p{i:02d}" for i in range(30)]
    for step in range(40):
        action = rng.choice(["upsert", "upsert", "delete", "embed", "embed", "full", "abort"])
        chosen = rng.sample(ids, rng.randint(1, 8))
        products = [
            make_product(id=pid, title=f"Product {pid} v{rng.randint(0, 2)}",
                         price=rng.choice([5, 20]), in_stock=rng.random() < 0.7,
                         category=rng.choice(["Kitchen", "Kitchen > Coffee", "Garden"]))
            for pid in chosen
        ]  # fmt: skip
        if action == "upsert":
            writer.index(products)
        elif action == "delete":
            writer.delete(chosen)
        elif action == "embed":
            _embed_all(writer, seed=step * 100)
        else:
            writer.begin_full()
            writer.index(products)
            writer.commit_full() if action == "full" else writer.abort_full()
        fresh = EmbeddedRecall(tmp_path / "index")
        query = _vector(10_000 + step)
        filter_sets: list[dict[str, object]] = [
            {}, {"category": "Kitchen"}, {"in_stock": True, "max_price": 10}]  # fmt: skip
        for filters in filter_sets:
            assert _dense(searcher, query, **filters) == _dense(fresh, query, **filters), step
        assert searcher.vector_status() == fresh.vector_status()
        # Every live product is either found by the dense leg or pending, never both.
        live = set(fresh.content_hashes(ids))
        found = {pid for pid, _ in _dense(fresh, query)}
        pending = {p.product_id for p in fresh.pending_vectors(MODEL, limit=100)}
        assert found | pending == live and not found & pending, step
        assert fresh.vector_status().with_vector == len(found), step
        fresh.close()
    writer.close()
    searcher.close()


def test_an_index_built_before_the_vector_store_gets_its_products_pending(tmp_path: Path) -> None:
    old = EmbeddedRecall(tmp_path / "index")
    old.index([make_product(id="a", title="Red kettle"), make_product(id="b", title="Mug")])
    old.close()
    for suffix in ["", "-wal", "-shm"]:
        (tmp_path / "index" / f"{DB_NAME}{suffix}").unlink(missing_ok=True)
    reopened = EmbeddedRecall(tmp_path / "index")
    assert [p.product_id for p in reopened.pending_vectors(MODEL, limit=10)] == ["a", "b"]
    assert _embed_all(reopened, seed=0) == 2
    assert len(_dense(reopened, _vector(0), locale="en")) == 2
    reopened.close()


def test_the_embedded_text_is_cut_to_the_configured_length(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, embed_text_max_chars=40)
    recall = make_recall(settings)
    recall.index([make_product(id="a", description="long " * 100)])
    [pending] = recall.pending_vectors(MODEL, limit=10)
    assert len(pending.text) <= 40
    recall.close()


def test_searches_in_threads_stay_correct_while_vectors_are_written(tmp_path: Path) -> None:
    recall = EmbeddedRecall(tmp_path / "index")
    recall.index([make_product(id=f"p{i:03d}", title=f"Product {i}") for i in range(200)])
    errors: list[BaseException] = []
    done = threading.Event()

    def search() -> None:
        try:
            while not done.is_set():
                scores = [score for _pid, score in _dense(recall, _vector(0))]
                assert scores == sorted(scores, reverse=True)
        except BaseException as exc:  # handed to the main thread
            errors.append(exc)

    threads = [threading.Thread(target=search) for _ in range(3)]
    for thread in threads:
        thread.start()
    for batch in range(10):
        pending = recall.pending_vectors(MODEL, limit=20)
        recall.put_vectors(MODEL, [StoredVector(p.product_id, p.text_hash, _vector(batch * 100 + i))
                                   for i, p in enumerate(pending)])  # fmt: skip
    done.set()
    for thread in threads:
        thread.join()
    assert errors == []
    fresh = EmbeddedRecall(tmp_path / "index")
    assert _dense(recall, _vector(0)) == _dense(fresh, _vector(0))
    assert len(_dense(recall, _vector(0))) == 50
    fresh.close()
    recall.close()


def test_a_query_vector_of_another_dimension_names_both_and_the_fix(tmp_path: Path) -> None:
    recall = EmbeddedRecall(tmp_path / "index")
    recall.index([make_product(id="a")])
    _embed_all(recall, seed=0)
    fix = r"has 3 dimensions, the index's vectors have 8.*shelf embed --rebuild"
    with pytest.raises(EmbeddingMismatch, match=fix):
        recall.search_legs(None, [1.0, 0.0, 0.0], limit=5)
    recall.close()
