"""`shelf analytics export --out` that is not a writable directory exits 2 naming --out; and
every time option of `shelf analytics` and `shelf judgments from-clicks`: a time outside
years 1-9999 once in UTC exits 2 naming the option (it raised OverflowError before)."""

from __future__ import annotations

from pathlib import Path

import pytest

from search.cli.main import main

EARLY = "0001-01-01T00:00:00+01:00"  # 31 Dec of year 0 in UTC
LATE = "9999-12-31T23:59:59-12:00"  # year 10000 in UTC
WINDOWED = [["analytics", name] for name in ("top", "zero", "no-clicks", "daily")]
WINDOWED.append(["analytics", "query", "x"])
CASES = [(cmd, [option, when], option) for cmd in WINDOWED
         for option, when in (("--from", EARLY), ("--to", LATE))]  # fmt: skip
CASES += [
    (["analytics", "export", "--format", "ubi"], ["--since", EARLY], "--since"),
    (["analytics", "export", "--format", "ubi"], ["--since", LATE], "--since"),
    (["judgments", "from-clicks", "--out", "q.txt"], ["--since", EARLY], "--since"),
    (["judgments", "from-clicks", "--out", "q.txt"],
     ["--since", "2026-11-01", "--until", LATE], "--until"),
]  # fmt: skip


@pytest.mark.parametrize(("command", "flags", "named"), CASES)
def test_a_time_outside_the_utc_range_exits_2_naming_the_option(
    command: list[str],
    flags: list[str],
    named: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    try:
        code = main([*command, *flags])
    except SystemExit as exit_:  # argparse's own refusal
        code = int(exit_.code or 0)
    err = capsys.readouterr().err
    assert code == 2, err
    assert named in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.parametrize(
    "out",
    ["a-file", "a-file/sub", "/proc/shelf-ubi", "/sys/kernel"],
    ids=["an existing file", "below a file", "cannot be made", "not writable"],
)
def test_an_out_that_is_no_writable_directory_exits_2_naming_it(
    out: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SHELF_DATA_DIR", str(tmp_path))
    from search.settings import get_settings

    get_settings.cache_clear()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-file").write_text("keep me\n")
    try:
        code = main(["analytics", "export", "--format", "ubi", "--out", out])
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err
    assert code == 2, err
    assert "--out" in err and "Traceback" not in err
    assert (tmp_path / "a-file").read_text() == "keep me\n"
