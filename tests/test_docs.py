"""The docs cannot drift from the code: the generated reference pages are current, every shell
snippet of README.md and docs/ is run here or marked as not run, and every relative link
resolves. The convention is written down in docs/index.md ("Conventions of these pages")."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
REGENERATE = "make docs (or: python docs/generate_reference.py)"
SHELL = {"bash", "sh", "shell", "console"}
RUN = "bash"  # the only info string the tests run
OUTPUT = "output"  # right after a run block: what its stdout must be
NOT_RUN = re.compile(r"^<!--\s*not run:(?P<reason>.*?)-->$")
FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
BLOCK_TIMEOUT_S = 300
README_MAX_LINES = 250


@dataclass(frozen=True)
class Block:
    """One fenced code block of a Markdown file."""

    path: str
    line: int  # 1-based line of the opening fence
    end: int  # 1-based line of the closing fence
    info: str
    body: str
    not_run: str | None  # the reason of a `<!-- not run: ... -->` on the line before

    @property
    def language(self) -> str:
        return self.info.split()[0] if self.info.split() else ""

    @property
    def runs(self) -> bool:
        return self.language == RUN and self.not_run is None

    def where(self) -> str:
        return f"{self.path}:{self.line}"


def fenced_blocks(text: str, path: str) -> list[Block]:
    """Every fenced block of ``text``, with the not-run marker right above it, if any."""
    lines = text.splitlines()
    blocks = []
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening or (opening["fence"][0] == "`" and "`" in opening["info"]):
            index += 1
            continue
        indent, fence = len(opening["indent"]), opening["fence"]
        closing = re.compile(rf"^ *{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        end = index + 1
        while end < len(lines) and not closing.match(lines[end]):
            end += 1
        body = "\n".join(
            line[indent:] if not line[:indent].strip() else line.lstrip()
            for line in lines[index + 1 : end]
        )
        above = index - 1
        while above >= 0 and not lines[above].strip():
            above -= 1
        marker = NOT_RUN.match(lines[above].strip()) if above >= 0 else None
        blocks.append(
            Block(
                path=path,
                line=index + 1,
                end=end + 1,
                info=opening["info"].strip(),
                body=body + "\n" if body else "",
                not_run=marker["reason"].strip() if marker else None,
            )
        )
        index = end + 1
    return blocks


def snippet_problems(blocks: list[Block]) -> list[str]:
    """What breaks the convention: a block without a language, a shell block that is neither
    run (`bash`) nor marked, an empty reason, an output block that follows no run block."""
    problems = []
    for previous, block in zip([None, *blocks], blocks, strict=False):
        if not block.language:
            problems.append(f"{block.where()}: a fenced block needs a language (bash, text, ...)")
        elif block.not_run == "":
            problems.append(f"{block.where()}: `<!-- not run: ... -->` needs a reason")
        elif block.language in SHELL and block.not_run is None and block.language != RUN:
            problems.append(
                f"{block.where()}: a `{block.language}` block is not run by the tests: make it "
                f"`{RUN}` (run) or put `<!-- not run: reason -->` on the line above"
            )
        elif block.language == OUTPUT and (previous is None or not previous.runs):
            problems.append(f"{block.where()}: an `{OUTPUT}` block must follow a run `{RUN}` block")
    return problems


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def all_blocks() -> list[Block]:
    return [
        block
        for path in DOC_FILES
        for block in fenced_blocks(path.read_text(encoding="utf-8"), relative(path))
    ]


def load_generator():
    spec = importlib.util.spec_from_file_location(
        "generate_reference", ROOT / "docs" / "generate_reference.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Generated reference pages


@pytest.fixture(scope="module")
def generated() -> dict[Path, str]:
    return load_generator().generate()


@pytest.mark.parametrize("page", ["configuration.md", "cli.md", "http.md"])
def test_generated_reference_page_is_current(generated: dict[Path, str], page: str) -> None:
    path = ROOT / "docs" / "reference" / page
    assert path in generated, f"docs/generate_reference.py no longer writes {page}"
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    assert current == generated[path], f"docs/reference/{page} is stale: run {REGENERATE}"


def test_reference_pages_name_every_setting_command_and_route(
    generated: dict[Path, str],
) -> None:
    from fastapi.routing import APIRoute

    generator = load_generator()
    pages = {path.name: text for path, text in generated.items()}
    settings_class = generator.load_settings_class()
    missing = [
        f"SHELF_{name.upper()}"
        for name in settings_class.model_fields
        if f"| `SHELF_{name.upper()}` |" not in pages["configuration.md"]
    ]
    missing += [
        sub.prog
        for _, _, sub in generator.walk(generator.load_parser())
        if not re.search(rf"^#+ {re.escape(sub.prog)}$", pages["cli.md"], flags=re.M)
    ]
    data_dir = ROOT / "does-not-exist"
    app = generator.load_app(settings_class(data_dir=data_dir))
    app.openapi()
    assert not data_dir.exists(), "building the app or its schema started a service (lifespan)"
    missing += [
        f"{method} {route.path}"
        for route in app.routes
        if isinstance(route, APIRoute) and route.include_in_schema
        for method in sorted(route.methods)
        if f"### {method} {route.path}\n" not in pages["http.md"]
    ]
    assert not missing, f"not in the generated reference: {missing}"


# Snippets


def test_every_shell_snippet_is_run_or_marked_not_run() -> None:
    problems = snippet_problems(all_blocks())
    assert not problems, "snippets breaking the convention of docs/index.md:\n" + "\n".join(
        problems
    )


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("```sh\nshelf serve\n```\n", "is not run by the tests"),
        ("```\nshelf serve\n```\n", "needs a language"),
        ("<!-- not run:  -->\n```sh\nshelf serve\n```\n", "needs a reason"),
        ("```output\nhello\n```\n", "must follow a run `bash` block"),
        ("  ```console\n  $ shelf serve\n  ```\n", "is not run by the tests"),
    ],
)
def test_a_snippet_breaking_the_convention_is_reported(markdown: str, expected: str) -> None:
    problems = snippet_problems(fenced_blocks(markdown, "page.md"))
    assert len(problems) == 1 and expected in problems[0], problems


def test_marked_and_run_snippets_are_told_apart() -> None:
    blocks = fenced_blocks(
        "<!-- not run: needs a server -->\n\n```sh\ncurl localhost:8000\n```\n"
        "```bash\nshelf --help\n```\n```output\nusage\n```\n",
        "page.md",
    )
    assert [(b.language, b.not_run, b.runs) for b in blocks] == [
        ("sh", "needs a server", False),
        ("bash", None, True),
        ("output", None, False),
    ]
    assert snippet_problems(blocks) == []


def shelf_bin() -> Path:
    """The directory of the `shelf` console script of the Python running the tests."""
    bin_dir = Path(sys.executable).parent
    if not (bin_dir / "shelf").exists():
        pytest.fail(f"no `shelf` script beside {sys.executable}: run `make install`")
    return bin_dir


def snippet_env(workdir: Path, bin_dir: Path) -> dict[str, str]:
    """The caller's environment without its SHELF_* settings, offline, one thread a library."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("SHELF_")}
    env.update(
        SHELF_DATA_DIR=str(workdir / ".shelf"),
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
        TOKENIZERS_PARALLELISM="false",
        COLUMNS="100",
    )
    return env


def comparable(output: str) -> list[str]:
    """Output lines with times masked (`12.3 ms` -> `N ms`) and trailing spaces dropped."""
    masked = re.sub(r"\d+(\.\d+)? ?(ms|s)\b", r"N \2", output)
    return [line.rstrip() for line in masked.strip("\n").splitlines()]


RUN_FILES = sorted({block.path for block in all_blocks() if block.runs})


@pytest.mark.slow
@pytest.mark.parametrize("page", RUN_FILES)
def test_snippets_run(page: str, tmp_path: Path) -> None:
    """Each page's `bash` blocks, in order, in one fresh directory and data dir: the commands a
    reader copies work, and an `output` block below one is what it prints."""
    blocks = fenced_blocks((ROOT / page).read_text(encoding="utf-8"), page)
    bin_dir = shelf_bin()
    for name in ("catalog", "bench", "deploy"):  # the paths snippets name, relative to the repo
        (tmp_path / name).symlink_to(ROOT / name)
    env = snippet_env(tmp_path, bin_dir)
    last_stdout = ""
    for previous, block in zip([None, *blocks], blocks, strict=False):
        if block.language == OUTPUT and previous is not None and previous.runs:
            assert comparable(block.body) == comparable(last_stdout), (
                f"{block.where()}: the output shown is not what `{previous.body.strip()}` prints "
                f"now; update the page with:\n{last_stdout}"
            )
        if not block.runs:
            continue
        script = re.sub(r"(?<![\w/.])\.venv/bin/", f"{bin_dir}/", block.body)
        result = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", script],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=BLOCK_TIMEOUT_S,
        )
        assert result.returncode == 0, (
            f"{block.where()}: exit {result.returncode}\n{block.body}\n"
            f"stdout:\n{result.stdout[-2000:]}\nstderr:\n{result.stderr[-3000:]}"
        )
        last_stdout = result.stdout


def test_some_snippets_run() -> None:
    """The README's first steps are among the run snippets (a page of marked blocks runs
    nothing)."""
    readme = [b for b in all_blocks() if b.path == "README.md" and b.runs]
    commands = " ".join(b.body for b in readme)
    assert "shelf ingest" in commands and "shelf search" in commands, commands


# The front page and links


def test_readme_is_a_front_page() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = text.count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move detail into docs/"
    for needed in ("make demo", "make test", "Which library does what", "docs/index.md"):
        assert needed in text, f"README.md should say {needed!r}"


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to dashes."""
    text = re.sub(r"`|\*\*|\[([^]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def prose_lines(path: Path) -> list[tuple[int, str]]:
    """The lines of a Markdown file outside its fenced blocks, numbered from 1."""
    text = path.read_text(encoding="utf-8")
    fenced = {n for b in fenced_blocks(text, "") for n in range(b.line, b.end + 1)}
    return [(n, line) for n, line in enumerate(text.splitlines(), start=1) if n not in fenced]


def anchors(path: Path) -> set[str]:
    """The anchors of a Markdown file's headings, numbered like GitHub's when repeated."""
    seen: dict[str, int] = {}
    result = set()
    for _, line in prose_lines(path):
        match = re.match(r"^#{1,6} (.*)$", line)
        if match:
            anchor = github_anchor(match[1])
            count = seen.get(anchor, 0)
            seen[anchor] = count + 1
            result.add(anchor if count == 0 else f"{anchor}-{count}")
    return result


def test_relative_links_resolve() -> None:
    broken = []
    for path in DOC_FILES:
        for number, line in prose_lines(path):
            for target in re.findall(r"\]\(([^)\s]+)\)", line):
                if re.match(r"^[a-z]+:", target):
                    continue
                file_part, _, fragment = target.partition("#")
                linked = (path.parent / file_part).resolve() if file_part else path
                where = f"{relative(path)}:{number}: {target}"
                if not linked.exists():
                    broken.append(f"{where} (no such file)")
                elif fragment and linked.suffix == ".md" and fragment not in anchors(linked):
                    broken.append(f"{where} (no such heading)")
    assert not broken, "broken links:\n" + "\n".join(broken)


REPO_PATH = re.compile(r"`((?:catalog|search|workers|tests|bench|deploy|docs)/[\w./-]*)`")
MODULE = re.compile(r"`((?:catalog|search|workers)(?:\.\w+)+)")


def module_exists(dotted: str) -> bool:
    """Whether ``dotted`` names a module or package of the tree, or something inside one."""
    parts = dotted.split(".")
    for end in range(len(parts), 1, -1):
        base = ROOT.joinpath(*parts[:end])
        if base.with_suffix(".py").exists() or (base / "__init__.py").exists():
            return True
    return False


def test_paths_named_in_the_docs_exist() -> None:
    """A file, folder or module a page names in backticks (`search/recall/fusion.py`,
    `search.rerank.cache`) is in the tree, so the pages follow when code moves."""
    missing = []
    for path in DOC_FILES:
        if path.parent.name == "reference":
            continue
        for number, line in prose_lines(path):
            for named in REPO_PATH.findall(line):
                if not (ROOT / named.rstrip("/")).exists():
                    missing.append(f"{relative(path)}:{number}: {named}")
            for dotted in MODULE.findall(line):
                if not module_exists(dotted):
                    missing.append(f"{relative(path)}:{number}: {dotted}")
    assert not missing, "paths the docs name that do not exist:\n" + "\n".join(missing)
