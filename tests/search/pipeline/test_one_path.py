"""One path: ``shelf eval``, ``shelf search --json`` and ``GET /search`` rank the same products
in the same order for the same query, settings and index, with a stored merchandising rule (a
pin and a hide) and the dense match floor applied. A real tantivy index with the bundled
embedding model's vectors, a real SQLite event store, rerank off on all three, the shipped
learned ranker ordering them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from search.api.app import create_app
from search.cli.main import main
from search.evaluation.trec import read_run
from search.settings import get_settings

QUERY = {"query_id": "q1", "locale": "en-US", "text": "wireless noise cancelling headphones"}
K = 10
RECALL_K = 50


@pytest.fixture
def shop(
    api_data_dir: Path, test_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """The sample catalog's index (with vectors) copied into this test's data dir, configured
    with a match floor that drops far neighbours; the event store is a SQLite file beside it."""
    shutil.copytree(api_data_dir / "index", tmp_path / "index")
    for name, value in {
        "SHELF_DATA_DIR": str(tmp_path),
        "SHELF_RERANK_MODEL": str(test_model_dir),
        "SHELF_RERANK_DEVICE": "cpu",
        "SHELF_SCORE_CACHE": "memory",
        "SHELF_RECALL_K": str(RECALL_K),
        "SHELF_DENSE_MATCH_MIN_SIMILARITY": "0.3",
        "SHELF_EMBED_IN_BACKGROUND": "false",
        "SHELF_RANKER": "default",  # the shipped learned ranker orders all three
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    return tmp_path


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    capsys.readouterr()
    assert main(list(argv)) == 0, capsys.readouterr().err
    return capsys.readouterr().out


def _cli_ids(capsys: pytest.CaptureFixture[str]) -> list[str]:
    out = _cli(capsys, "search", QUERY["text"], "--lang", QUERY["locale"], "--no-rerank",
               "--k", str(K), "--json")  # fmt: skip
    found = json.loads(out)
    assert found["ranker"].startswith("default@")  # the learned ranker ordered them
    return [item["product_id"] for item in found["items"]]


def _eval_ids(capsys: pytest.CaptureFixture[str], tmp_path: Path, hidden: str) -> list[str]:
    queries, judgments = tmp_path / "queries.jsonl", tmp_path / "judgments.jsonl"
    queries.write_text(json.dumps(QUERY) + "\n", encoding="utf-8")
    judged = {"query_id": "q1", "product_id": hidden, "grade": 2}
    judgments.write_text(json.dumps(judged) + "\n", encoding="utf-8")
    run = tmp_path / "run.trec"
    _cli(capsys, "eval", "--queries", str(queries), "--judgments", str(judgments), "--no-rerank",
         "--k", str(K), "--recall-k", str(RECALL_K), "--run-out", str(run))  # fmt: skip
    return [doc for doc, _ in read_run(run)["q1"]]


def _http_ids() -> list[str]:
    with TestClient(create_app(get_settings())) as client:
        response = client.get(
            "/search",
            params={"q": QUERY["text"], "lang": QUERY["locale"], "rerank": "false", "k": K},
        )
    assert response.status_code == 200, response.text
    assert response.json()["ranker"].startswith("default@")
    return [item["product_id"] for item in response.json()["items"]]


def test_eval_cli_and_http_rank_the_same_products_with_rules_and_the_match_floor(
    shop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _cli_ids(capsys)
    assert len(before) == K
    pinned, hidden = before[-1], before[1]
    _cli(capsys, "rules", "add", "r1", "--contains", "headphones",
         "--pin", f"{pinned}@1", "--hide", hidden)  # fmt: skip

    searched = _cli_ids(capsys)
    assert searched[0] == pinned and hidden not in searched  # the rule applies
    evaluated = _eval_ids(capsys, shop, hidden)
    assert evaluated[:K] == searched
    assert _http_ids() == searched
