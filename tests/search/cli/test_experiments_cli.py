"""``shelf experiments`` on the embedded event store (a SQLite file in the test's data dir)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from search.cli.experiments import parse_variant
from search.cli.main import main


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> object:
    capsys.readouterr()
    assert main(["experiments", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_variant_flags_parse_weights_and_overrides() -> None:
    assert parse_variant("treatment:weight=3,rerank=false,recall_k=100,blend=0.25,model=m/x") == {
        "name": "treatment",
        "weight": 3,
        "overrides": {"rerank": False, "recall_k": 100, "blend": 0.25, "model": "m/x"},
    }


def test_an_unknown_variant_option_is_refused_naming_it() -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="'colour=red'"):
        parse_variant("a:colour=red")


def test_create_start_list_and_stop_an_experiment(capsys: pytest.CaptureFixture[str]) -> None:
    created = _run(
        capsys,
        "create",
        "rerank-v1",
        "--variant",
        "control:rerank=false",
        "--variant",
        "rerank",
        "--traffic",
        "0.5",
    )
    assert isinstance(created, dict) and created["status"] == "draft"
    assert created["variants"][0]["overrides"]["rerank"] is False
    started = _run(capsys, "start", "rerank-v1")
    assert isinstance(started, dict) and started["started_at"] is not None
    listed = _run(capsys, "list", "--status", "running")
    assert isinstance(listed, list) and [e["id"] for e in listed] == ["rerank-v1"]
    stopped = _run(capsys, "stop", "rerank-v1")
    assert isinstance(stopped, dict) and stopped["status"] == "stopped"


def test_a_definition_file_creates_the_experiment(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "exp.json"
    path.write_text(json.dumps({"variants": [{"name": "a"}, {"name": "b", "weight": 2}]}))
    created = _run(capsys, "create", "from-file", "--file", str(path), "--start")
    assert isinstance(created, dict)
    assert created["id"] == "from-file" and created["status"] == "running"


def test_bad_input_exits_2_naming_what_is_wrong(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["experiments", "create", "one-arm", "--variant", "solo"]) == 2
    assert "variants: List should have at least 2 items" in capsys.readouterr().err
    assert main(["experiments", "create", "x", "--variant", "a", "--variant", "b"]) == 0
    assert main(["experiments", "create", "x", "--variant", "a", "--variant", "b"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["experiments", "stop", "missing"]) == 2
    assert "'missing' does not exist" in capsys.readouterr().err


def test_a_stopped_experiment_cannot_restart(capsys: pytest.CaptureFixture[str]) -> None:
    _run(capsys, "create", "done", "--variant", "a", "--variant", "b", "--start")
    _run(capsys, "stop", "done")
    assert main(["experiments", "start", "done"]) == 2
    assert "it can move to: none" in capsys.readouterr().err
