"""`shelf ingest --celery`: chunks run as tasks on a real worker, through the shared pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from catalog.ingest import ingest_file
from search.cli.ingest import EXIT_REJECTS
from search.cli.main import main
from search.recall.embedded.backend import EmbeddedRecall
from tests.catalog.test_ingest_bulk import PRODUCTS, _records
from tests.workers.celery_harness import WorkerProcess, worker_env


def _catalog(path: Path) -> Path:
    good = [json.dumps(r) for r in _records(PRODUCTS)]
    base = {"locale": "en-US", "title": "x", "price": 5, "currency": "USD"}
    lines = [
        good[0],
        "{not json",
        json.dumps({**base, "id": "neg", "price": -1}),
        good[1],
        json.dumps({**base, "id": "loc", "locale": "xx-XX"}),
        good[2],
        # p1 again, later in the file: this row wins, the one on line 1 is superseded.
        json.dumps({**_records(PRODUCTS)[0], "title": "Trail running shoes, new listing"}),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.slow
def test_celery_ingest_indexes_and_rejects_exactly_what_a_local_ingest_does(
    redis_url: str,
    test_model_dir: Path,
    run_prefix: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    catalog = _catalog(tmp_path / "catalog.jsonl")
    queue = f"{run_prefix}-ingest"
    env = worker_env(
        redis_url=redis_url,
        model_dir=test_model_dir,
        queue=f"{run_prefix}-unused-rerank",
        cache_prefix=f"{run_prefix}:score:",
        SHELF_DATA_DIR=str(tmp_path / "worker-data"),
        SHELF_INGEST_QUEUE=queue,
    )
    worker = WorkerProcess(env, tmp_path / "worker.log", 2, f"--queues={queue}")
    try:
        for name, value in {
            "SHELF_REDIS_URL": redis_url,
            "SHELF_INGEST_QUEUE": queue,
            "SHELF_INGEST_TASK_TIMEOUT_S": "90",
            "SHELF_INGEST_IN_FLIGHT": "2",
        }.items():
            monkeypatch.setenv(name, value)
        rejects = tmp_path / "rejects.jsonl"
        code = main(["ingest", str(catalog), "--celery", "--rejects", str(rejects), "--json"])
        report = json.loads(capsys.readouterr().out)
        assert code == EXIT_REJECTS, worker.log_tail()
    finally:
        worker.stop()

    local_rejects = tmp_path / "local-rejects.jsonl"
    local = EmbeddedRecall(tmp_path / "local-index")
    with local_rejects.open("w") as out:
        expected = ingest_file(catalog, local, rejects_out=out)
    remote = EmbeddedRecall(tmp_path / "worker-data" / "index")
    ids = [p.id for p in PRODUCTS] + ["neg", "loc"]

    counts = [report[k] for k in ("read", "indexed", "rejected", "duplicates")]
    assert counts == [7, 3, 3, 1]
    assert report["rejects"] == expected.as_dict()["rejects"]
    assert rejects.read_text() == local_rejects.read_text()
    assert remote.content_hashes(ids) == local.content_hashes(ids)
    assert len(remote.content_hashes(ids)) == 3
    assert [h.product.title for h in remote.search("shoes", limit=5)] == [
        "Trail running shoes, new listing"
    ]


def test_full_reload_through_celery_is_refused_with_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = _catalog(tmp_path / "catalog.jsonl")
    assert main(["ingest", str(catalog), "--celery", "--full"]) == 2
    assert "drop --celery or --full" in capsys.readouterr().err
