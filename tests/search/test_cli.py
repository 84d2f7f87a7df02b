"""The ``shelf`` CLI end to end: real index on disk, the tiny model, JSON and human output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from catalog.samples import SAMPLE_CATALOG
from search.cli import main
from search.demo import demo_queries
from search.settings import get_settings

SHELF = Path(sys.executable).with_name("shelf")


@pytest.fixture
def ingested(monkeypatch: pytest.MonkeyPatch, test_model_dir: Path) -> None:
    """The sample catalog ingested into this test's data dir, the test model configured."""
    monkeypatch.setenv("SHELF_RERANK_MODEL", str(test_model_dir))
    assert main(["ingest", str(SAMPLE_CATALOG), "--json"]) == 0


def _json_out(capsys: pytest.CaptureFixture[str], argv: list[str]) -> object:
    capsys.readouterr()
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


DEMO = demo_queries()


@pytest.mark.parametrize(("query", "locale"), DEMO, ids=[locale for _, locale in DEMO])
def test_search_returns_products_in_the_querys_language(
    ingested: None, capsys: pytest.CaptureFixture[str], query: str, locale: str
) -> None:
    result = _json_out(capsys, ["search", query, "--k", "5", "--json"])
    assert isinstance(result, dict)
    items = result["items"]
    assert items
    assert {item["locale"] for item in items} == {locale}


def test_search_json_has_every_field_a_client_needs(
    ingested: None, capsys: pytest.CaptureFixture[str]
) -> None:
    result = _json_out(capsys, ["search", "降噪耳机", "--locale", "zh-CN", "--k", "3", "--json"])
    assert isinstance(result, dict)
    assert set(result["timings_ms"]) == {"recall", "rerank", "total"}
    first = result["items"][0]
    assert {"product_id", "title", "locale", "bm25_score", "rerank_score", "position"} <= set(first)
    assert [item["position"] for item in result["items"]] == list(
        range(1, len(result["items"]) + 1)
    )


def test_search_filters_reach_the_index(ingested: None, capsys: pytest.CaptureFixture[str]) -> None:
    result = _json_out(
        capsys,
        ["search", "coffee", "--locale", "en-US", "--max-price", "15", "--in-stock", "--no-rerank",
         "--k", "50", "--json"],
    )  # fmt: skip
    assert isinstance(result, dict)
    assert result["items"]
    assert all(i["price"] <= 15 and i["in_stock"] for i in result["items"])
    assert all(i["rerank_score"] is None for i in result["items"])


def test_ingest_reports_bad_lines_by_number_and_indexes_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = SAMPLE_CATALOG.read_text(encoding="utf-8").splitlines()[:3]
    path = tmp_path / "c.jsonl"
    path.write_text("\n".join([good[0], "oops", good[1], '{"id": "x"}', good[2]]) + "\n")
    rejects = tmp_path / "rejects.jsonl"
    assert main(["ingest", str(path), "--rejects", str(rejects)]) == 0
    captured = capsys.readouterr()
    assert "read 5, indexed 3, updated 0, unchanged 0, rejected 2, deleted 0" in captured.out
    assert "rejected line 2: not valid JSON" in captured.err
    assert "rejected line 4: locale: missing, and the language" in captured.err
    assert [json.loads(line)["line"] for line in rejects.read_text().splitlines()] == [2, 4]


def test_ingest_of_only_bad_lines_fails(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text("oops\n")
    assert main(["ingest", str(path)]) == 1


def test_ingest_full_json_reports_every_count_and_deletes_what_the_file_lacks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = SAMPLE_CATALOG.read_text(encoding="utf-8").splitlines()[:4]
    (tmp_path / "a.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "b.jsonl").write_text("\n".join(lines[:2]) + "\n", encoding="utf-8")
    assert main(["ingest", str(tmp_path / "a.jsonl")]) == 0
    capsys.readouterr()
    assert main(["ingest", str(tmp_path / "b.jsonl"), "--full", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    counts = {k: report[k] for k in ("read", "indexed", "updated", "unchanged", "rejected",
                                     "deleted")}  # fmt: skip
    assert counts == {"read": 2, "indexed": 0, "updated": 0, "unchanged": 2, "rejected": 0,
                      "deleted": 2}  # fmt: skip


def test_reingesting_an_unchanged_catalog_succeeds(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text(SAMPLE_CATALOG.read_text(encoding="utf-8").splitlines()[0] + "\n")
    assert main(["ingest", str(path)]) == 0
    assert main(["ingest", str(path)]) == 0


def test_ingest_into_elasticsearch_without_a_url_says_what_to_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text("{}\n")
    assert main(["ingest", str(path), "--backend", "elasticsearch"]) == 1
    assert "needs SHELF_ELASTICSEARCH_URL" in capsys.readouterr().err


@pytest.mark.parametrize("query", ["", "   "])
def test_empty_query_is_a_clear_error(
    ingested: None, capsys: pytest.CaptureFixture[str], query: str
) -> None:
    assert main(["search", query]) == 2
    assert "shelf search: error: query is empty" in capsys.readouterr().err


def test_unknown_locale_is_a_clear_error(
    ingested: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["search", "coffee", "--locale", "xx-XX"]) == 2
    assert "unknown locale 'xx-XX'" in capsys.readouterr().err


def test_unloadable_model_is_a_failure_not_bad_input(
    ingested: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("SHELF_RERANK_MODEL", str(tmp_path))
    get_settings.cache_clear()  # ``ingested`` already read the settings
    assert main(["search", "coffee"]) == 1
    assert "without config.json" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["ingest", "search", "eval", "make-test-model", "demo"])
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert "--json" in capsys.readouterr().out


@pytest.mark.slow
def test_console_script_builds_a_model_ingests_and_searches(tmp_path: Path) -> None:
    env = {**os.environ, "SHELF_DATA_DIR": str(tmp_path / "data")}
    model_dir = tmp_path / "model"

    def shelf(*args: str) -> str:
        done = subprocess.run(
            [str(SHELF), *args], env=env, capture_output=True, text=True, timeout=300, check=False
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    shelf("make-test-model", str(model_dir), "--json")
    assert (model_dir / "config.json").exists() and (model_dir / "tokenizer.json").exists()
    shelf("ingest", str(SAMPLE_CATALOG))
    env["SHELF_RERANK_MODEL"] = str(model_dir)
    out = json.loads(shelf("search", "кроссовки для бега", "--json"))
    assert out["reranked"] and out["items"][0]["locale"] == "ru-RU"
