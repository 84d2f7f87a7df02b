"""`shelf embed --celery`: batches embedded by a real worker on the real broker, written into
the shared index by the worker, the same vectors as an in-process pass."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from catalog.product import Product
from search.cli.main import main
from search.recall.embedded.backend import EmbeddedRecall
from tests.workers.celery_harness import WorkerProcess, worker_env
from workers.embedding.model import UseEmbedder


@pytest.mark.slow
def test_celery_embedding_pass_stores_every_vector_a_local_pass_would(
    redis_url: str,
    test_model_dir: Path,
    run_prefix: str,
    tmp_path: Path,
    sample_products: list[Product],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    catalog = tmp_path / "catalog.jsonl"
    chosen = sample_products[::16]  # 40 products, every language
    catalog.write_text("\n".join(p.model_dump_json() for p in chosen) + "\n", encoding="utf-8")
    data_dir = tmp_path / "data"
    queue = f"{run_prefix}-embed"
    settings = {
        "SHELF_DATA_DIR": str(data_dir),
        "SHELF_REDIS_URL": redis_url,
        "SHELF_EMBED_QUEUE": queue,
        "SHELF_EMBED_BATCH_SIZE": "8",
        "SHELF_INGEST_IN_FLIGHT": "2",
        "SHELF_INGEST_TASK_TIMEOUT_S": "90",
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    assert main(["ingest", str(catalog), "--embed", "later"]) == 0
    env = worker_env(
        redis_url=redis_url,
        model_dir=test_model_dir,
        queue=f"{run_prefix}-unused-rerank",
        cache_prefix=f"{run_prefix}:score:",
        **settings,
    )
    worker = WorkerProcess(env, tmp_path / "worker.log", 2, f"--queues={queue}")
    try:
        capsys.readouterr()
        assert main(["embed", "--celery", "--json"]) == 0, worker.log_tail()
        report = json.loads(capsys.readouterr().out)
    finally:
        worker.stop()
    assert (report["embedded"], report["pending"]) == (len(chosen), 0)

    remote = EmbeddedRecall(data_dir / "index")
    local = EmbeddedRecall(tmp_path / "local")
    local.index(chosen)
    from search.embedding.backfill import embed_pending

    embedder = UseEmbedder(threads=1)
    embed_pending(local, embedder, batch_size=8)
    assert remote.vector_status() == local.vector_status()
    query = embedder.embed_queries(["noise cancelling headphones"])[0]
    by_remote = remote.search_legs(None, list(query), limit=10).dense
    by_local = local.search_legs(None, list(query), limit=10).dense
    assert [h.product.id for h in by_remote] == [h.product.id for h in by_local]
    assert [h.dense_score for h in by_remote] == pytest.approx(
        [h.dense_score for h in by_local], abs=1e-3
    )
