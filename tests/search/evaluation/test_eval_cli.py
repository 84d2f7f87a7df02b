"""``shelf eval`` end to end on the shipped sample catalog: real index, real pipeline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import ir_measures
import pytest
from ir_measures import nDCG

from catalog.samples import SAMPLE_CATALOG, SAMPLE_JUDGMENTS, SAMPLE_QUERIES
from search.cli.main import main
from search.evaluation.judgments import read_judgments, read_queries
from search.evaluation.metrics import evaluate_run
from search.evaluation.trec import read_run

LANGUAGES = ["ar", "de", "en", "es", "ja", "ko", "ru", "zh"]
SAMPLE = ["--catalog", str(SAMPLE_CATALOG), "--queries", str(SAMPLE_QUERIES)]
JUDGED = [*SAMPLE, "--judgments", str(SAMPLE_JUDGMENTS)]


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["eval", *args, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert isinstance(data, dict)
    return data


def summary_of_run_file(path: Path, recall_k: int) -> dict[str, dict[str, float]]:
    """The per-language summary the metric functions give on a written run file."""
    queries = read_queries(SAMPLE_QUERIES)
    run = read_run(path)
    rankings = {q.query_id: [doc for doc, _ in run.get(q.query_id, [])] for q in queries}
    languages = {q.query_id: q.language for q in queries}
    return evaluate_run(
        rankings, read_judgments(SAMPLE_JUDGMENTS), languages, 10, [recall_k]
    ).summary()


def assert_same_summary(reported: dict[str, Any], expected: dict[str, dict[str, float]]) -> None:
    assert set(reported) == set(expected)
    for language, row in expected.items():
        assert reported[language] == pytest.approx(row, abs=1e-12), language


def test_eval_prints_a_row_per_language_under_the_overall_row(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["eval", *JUDGED, "--no-rerank"]) == 0
    out = capsys.readouterr().out
    rows = [line.split()[0] for line in out.splitlines() if line.startswith("  ")][1:]
    assert rows[: 1 + len(LANGUAGES)] == ["all", *LANGUAGES]
    assert "nDCG@10" in out and "R@50" in out and "unjudged@10" in out
    assert "hybrid K=50: 80 judged queries" in out


def test_reported_numbers_are_the_metric_functions_on_the_written_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run_file = tmp_path / "bm25.trec"
    data = run_json(capsys, *JUDGED, "--no-rerank", "--run-out", str(run_file))
    (config,) = data["configs"]
    assert_same_summary(config["summary"], summary_of_run_file(run_file, 50))
    assert set(config["summary"]) == {"all", *LANGUAGES}


def test_reported_ndcg_equals_trec_eval_on_the_written_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run_file = tmp_path / "bm25.trec"
    data = run_json(capsys, *JUDGED, "--no-rerank", "--run-out", str(run_file))
    qrels = read_judgments(SAMPLE_JUDGMENTS)
    run = {q: dict(items) for q, items in read_run(run_file).items()}
    expected = ir_measures.pytrec_eval.calc_aggregate([nDCG @ 10], qrels, run)[nDCG @ 10]
    # Every sample query retrieves something, so trec_eval averages over the same 80 queries.
    assert data["configs"][0]["summary"]["all"]["nDCG@10"] == pytest.approx(expected, abs=1e-9)


def test_each_recall_k_is_evaluated_and_written_to_its_own_run_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = run_json(
        capsys,
        *JUDGED,
        "--no-rerank",
        "--recall-k",
        "50,100",
        "--run-out",
        str(tmp_path / "r.trec"),
    )
    assert [c["config"] for c in data["configs"]] == ["hybrid K=50", "hybrid K=100"]
    assert data["run_files"] == [
        str(tmp_path / "r.shelf-hybrid-k50.trec"),
        str(tmp_path / "r.shelf-hybrid-k100.trec"),
    ]
    k100 = data["configs"][1]["summary"]["all"]
    assert k100["R@100"] >= data["configs"][0]["summary"]["all"]["R@50"]
    assert max(len(v) for v in read_run(tmp_path / "r.shelf-hybrid-k100.trec").values()) > 50


def test_a_query_without_judgments_is_reported_and_left_out_of_the_averages(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    queries = tmp_path / "queries.jsonl"
    extra = {"query_id": "en-us-q99", "locale": "en-US", "text": "garden hose"}
    queries.write_text(SAMPLE_QUERIES.read_text(encoding="utf-8") + json.dumps(extra) + "\n")
    args = ["--catalog", str(SAMPLE_CATALOG), "--queries", str(queries)]
    args += ["--judgments", str(SAMPLE_JUDGMENTS), "--no-rerank"]

    with_extra = run_json(capsys, *args)["configs"][0]
    without = run_json(capsys, *JUDGED, "--no-rerank")["configs"][0]
    assert with_extra["without_judgments"] == ["en-us-q99"]
    assert with_extra["summary"] == without["summary"]

    assert main(["eval", *args]) == 0
    assert "1 query(ies) have no judgments and are left out of the averages: en-us-q99" in (
        capsys.readouterr().out
    )


def test_comparing_a_configuration_with_its_own_run_file_finds_no_difference(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run_file = tmp_path / "bm25.trec"
    run_json(capsys, *JUDGED, "--no-rerank", "--run-out", str(run_file))
    data = run_json(capsys, *JUDGED, "--compare", f"run={run_file}", "rerank=off")
    comparison = data["comparison"]
    assert [m["metric"] for m in comparison["metrics"]] == [
        "nDCG@10",
        "MRR@10",
        "P@10",
        "R@10",
        "R@50",
    ]
    for metric in comparison["metrics"]:
        assert (metric["improved"], metric["worsened"], metric["unchanged"]) == (0, 0, 80)
        assert metric["p_value"] == 1.0
    assert "paired randomization test" in comparison["test"]


def test_comparing_recall_sizes_pairs_recall_at_each_k(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", *JUDGED, "--compare", "rerank=off", "rerank=off,recall_k=100"]) == 0
    out = capsys.readouterr().out
    assert "A = hybrid K=50   B = hybrid K=100" in out
    assert "R@50 vs R@100" in out


def test_malformed_judgments_exit_2_naming_the_lines(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    judgments = tmp_path / "j.qrels"
    judgments.write_text("en-us-q01 0 en-us-0001 2\nen-us-q01 en-us-0002\n")
    assert main(["eval", *SAMPLE, "--judgments", str(judgments)]) == 2
    err = capsys.readouterr().err
    assert "shelf eval: error:" in err and "line 2: expected 4 fields" in err


@pytest.mark.parametrize(
    "extra", [["--k", "60"], ["--compare", "rerank=maybe", "rerank=on"]], ids=["k", "spec"]
)
def test_impossible_settings_exit_2(capsys: pytest.CaptureFixture[str], extra: list[str]) -> None:
    assert main(["eval", *JUDGED, "--no-rerank", *extra]) == 2
    assert "shelf eval: error:" in capsys.readouterr().err


@pytest.mark.slow
def test_eval_with_the_test_model_reranks_and_reports_from_its_run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    test_model_dir: Path,
) -> None:  # fmt: skip
    monkeypatch.setenv("SHELF_RERANK_MODEL", str(test_model_dir))
    run_file = tmp_path / "rerank.trec"
    data = run_json(capsys, *JUDGED, "--run-out", str(run_file))
    (config,) = data["configs"]
    assert config["config"] == "hybrid+rerank K=50" and config["rerank"] is True
    assert_same_summary(config["summary"], summary_of_run_file(run_file, 50))
    bm25 = run_json(capsys, *JUDGED, "--no-rerank")["configs"][0]["summary"]
    # The reranker reorders candidates but never changes which were recalled.
    assert config["summary"]["all"]["R@50"] == bm25["all"]["R@50"]
    assert config["summary"]["all"]["nDCG@10"] != bm25["all"]["nDCG@10"]
