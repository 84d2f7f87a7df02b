"""The import contracts (``[tool.importlinter]`` in pyproject.toml) hold, and ``lint-imports``
(what ``make lint`` runs) fails on a new import that breaks one of them.

The failing side is shown on a copy of the three packages with forbidden imports planted, at
least one per contract, all checked in one ``lint-imports`` run: each planted import must be
reported in its contract's own section of the report.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp
import pytest

from tests.import_contracts import module_cycles

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PACKAGES = ("search", "workers", "catalog")

LAYERS = "Every package of search in its layer: entry points, consumers, search path, seams, base"
RECALL_SEAM = "search.recall knows only catalog, search.query and the base modules"
CATALOG_LOWEST = "catalog imports nothing of search or workers"
WORKERS_NO_WEB = "workers stay importable without the web stack"
WORKERS_BELOW = "workers know the seams they serve, never the search path above them"
ACYCLIC_SIBLINGS = "No cycles between the modules and subpackages of one package"
ACYCLIC_MODULES = "No import cycles between modules"
CONTRACTS = (
    LAYERS,
    RECALL_SEAM,
    CATALOG_LOWEST,
    WORKERS_NO_WEB,
    WORKERS_BELOW,
    ACYCLIC_SIBLINGS,
    ACYCLIC_MODULES,
)

# (what is planted, {path: source}, the contract it breaks, what that contract's report must say).
# Planted imports name packages, not modules, where they can: the modules move, the layers stay.
PLANTED = [
    (
        "query imports the recall layer above it",
        {"search/query/_probe_up.py": "from search.recall import SearchFilters\n"},
        LAYERS,
        "search.query._probe_up -> search.recall",
    ),
    (
        "analytics imports suggest, its independent sibling",
        {"search/analytics/_probe_sibling.py": "import search.suggest\n"},
        LAYERS,
        "search.analytics._probe_sibling -> search.suggest",
    ),
    (
        "the learned ranker's features import the pipeline that calls them",
        {"search/ranking/_probe_up.py": "import search.pipeline\n"},
        LAYERS,
        "search.ranking._probe_up -> search.pipeline",
    ),
    (
        "a new package of search has no layer",
        {"search/_probe_new/__init__.py": ""},
        LAYERS,
        "search._probe_new",
    ),
    (
        "recall imports workers",
        {"search/recall/_probe_worker.py": "import workers.task_names\n"},
        RECALL_SEAM,
        "search.recall._probe_worker -> workers.task_names",
    ),
    (
        "catalog imports search",
        {"catalog/_probe_errors.py": "from search.errors import ShelfError\n"},
        CATALOG_LOWEST,
        "catalog._probe_errors -> search.errors",
    ),
    (
        "catalog imports workers under TYPE_CHECKING",
        {
            "catalog/_probe_typing.py": "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from workers.tasks import WorkerState\n"
        },
        CATALOG_LOWEST,
        "catalog._probe_typing -> workers.tasks",
    ),
    (
        "workers import fastapi",
        {"workers/_probe_web.py": "import fastapi\n"},
        WORKERS_NO_WEB,
        "workers._probe_web -> fastapi",
    ),
    (
        "workers import the API",
        {"workers/_probe_api.py": "from search.api.components import Components\n"},
        WORKERS_NO_WEB,
        "workers._probe_api -> search.api.components",
    ),
    (
        "workers import the search pipeline",
        {"workers/_probe_path.py": "import search.pipeline\n"},
        WORKERS_BELOW,
        "workers._probe_path -> search.pipeline",
    ),
    (
        "experiments import the API that imports experiments",
        {"search/experiments/_probe_sibling.py": "from search.api import components\n"},
        ACYCLIC_SIBLINGS,
        "- .experiments -> .api",
    ),
    (
        "a package and its own module import each other",
        {
            "catalog/_probe_pkg/__init__.py": "from catalog._probe_pkg import child\n",
            "catalog/_probe_pkg/child.py": "import catalog._probe_pkg\n",
        },
        ACYCLIC_MODULES,
        "Import cycle between 2 modules: catalog._probe_pkg, catalog._probe_pkg.child",
    ),
]


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` as ``make lint`` runs it, from ``root`` (it imports the packages found
    there first), wide enough that no contract name is wrapped."""
    env = {**os.environ, "PYTHONPATH": str(root), "COLUMNS": "400", "NO_COLOR": "1"}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _python_sources(directory: str, names: list[str]) -> set[str]:
    """``shutil.copytree`` ignore: keep packages and .py files, nothing built or vendored."""
    return {
        n
        for n in names
        if not n.endswith(".py") and (n == "__pycache__" or not Path(directory, n).is_dir())
    }


def _verdicts(stdout: str) -> dict[str, str]:
    """Each contract's name -> ``KEPT`` or ``BROKEN``, from the summary lines."""
    verdicts = {}
    for line in stdout.splitlines():
        for name in CONTRACTS:
            for verdict in ("KEPT", "BROKEN"):
                if line.strip() == f"{name} {verdict}":
                    verdicts[name] = verdict
    return verdicts


def _reports(stdout: str) -> dict[str, str]:
    """Each broken contract's name -> its report: the lines under its name and underline."""
    reports: dict[str, str] = {}
    lines = stdout.splitlines()
    current: str | None = None
    for line, below in zip(lines, [*lines[1:], ""], strict=True):
        if line in CONTRACTS and below == "-" * len(line):
            current = line
            reports[current] = ""
        elif current is not None:
            reports[current] += line + "\n"
    return reports


@pytest.fixture(scope="module")
def planted_run(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    """One ``lint-imports`` run over a copy of the packages with every ``PLANTED`` import."""
    copy = tmp_path_factory.mktemp("planted")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, copy / package, ignore=_python_sources)
    (copy / "tests").mkdir()
    (copy / "tests" / "__init__.py").write_text("")
    shutil.copy(ROOT / "tests" / "import_contracts.py", copy / "tests" / "import_contracts.py")
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    for _, files, _, _ in PLANTED:
        for relative, source in files.items():
            (copy / relative).parent.mkdir(parents=True, exist_ok=True)
            (copy / relative).write_text(source)
    return _lint_imports(copy)


def test_every_contract_of_pyproject_is_checked_here_and_has_a_planted_violation() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    names = [c["name"] for c in config["tool"]["importlinter"]["contracts"]]
    assert sorted(names) == sorted(CONTRACTS)
    assert {contract for _, _, contract, _ in PLANTED} == set(CONTRACTS)


def test_the_tree_keeps_every_import_contract() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert _verdicts(result.stdout) == dict.fromkeys(CONTRACTS, "KEPT"), result.stdout


@pytest.mark.parametrize(
    ("planted", "contract", "reported"),
    [(p[0], p[2], p[3]) for p in PLANTED],
    ids=[p[0] for p in PLANTED],
)
def test_a_new_import_against_a_contract_fails_lint_imports(
    planted_run: subprocess.CompletedProcess[str], planted: str, contract: str, reported: str
) -> None:
    assert planted_run.returncode != 0, planted_run.stdout + planted_run.stderr
    assert _verdicts(planted_run.stdout).get(contract) == "BROKEN", planted_run.stdout
    assert reported in _reports(planted_run.stdout).get(contract, ""), planted_run.stdout


@pytest.mark.parametrize(
    ("imports", "cycles"),
    [
        ([("p.a", "p.b"), ("p.b", "p.c")], []),  # a chain
        ([("p.a", "p.b"), ("p.b", "p.a")], [["p.a", "p.b"]]),
        ([("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"), ("p.c", "p.d")], [["p.a", "p.b", "p.c"]]),
        ([("p", "p.a"), ("p.a", "p")], [["p", "p.a"]]),  # a package and its own module
        (
            [("p.a", "p.b"), ("p.b", "p.a"), ("p.c", "p.d"), ("p.d", "p.c")],
            [["p.a", "p.b"], ["p.c", "p.d"]],
        ),
        ([("p.a", "q.b"), ("q.b", "p.a")], []),  # q is not checked
    ],
)
def test_module_cycles_finds_every_loop_and_nothing_else(
    imports: list[tuple[str, str]], cycles: list[list[str]]
) -> None:
    graph = grimp.ImportGraph()
    for importer, imported in imports:
        graph.add_import(importer=importer, imported=imported)
    assert module_cycles(graph, ["p"]) == cycles
