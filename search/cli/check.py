"""``shelf check``: verify every file of the embedded index (all checksums, not only the part
verified at open), name each damaged file and the fix; exit 1 when something is wrong."""

from __future__ import annotations

import argparse

from search.cli.common import emit
from search.errors import ConfigError
from search.settings import Settings

CHECK_HELP = (
    "Verify the embedded index: tantivy's segment checksums, vectors.db (pages, rows, finite "
    "vectors), Shelf's marker; name each damaged file and the fix (exit 1)."
)
EXIT_DAMAGED = 1


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    """Check ``SHELF_DATA_DIR/index`` in full, reading only: exit 0 when sound, 1 when not."""
    from search.recall.embedded.integrity import check_index

    if settings.recall_backend != "embedded":
        raise ConfigError(
            "shelf check verifies the embedded index (SHELF_RECALL_BACKEND=embedded); "
            "Elasticsearch checks its own shards"
        )
    index_dir = settings.index_dir
    if not (index_dir / "meta.json").exists():
        raise ConfigError(f"no index at {index_dir}: run `shelf ingest CATALOG` first")
    report = check_index(index_dir, verify_bytes=None)
    lines = [f"{index_dir}: {len(report.checked)} files checked"]
    if report.ok:
        lines.append("ok: every checksum matches")
    for problem in report.problems:
        lines.append(f"damaged: {problem.file}: {problem.problem}")
        lines.append(f"  fix: {problem.fix}")
    emit(args, report.as_json(), "\n".join(lines))
    return 0 if report.ok else EXIT_DAMAGED
