"""``shelf ranker train``: judged queries through the search path into a ranker directory with
its model card (real tantivy index, real LightGBM), and the bad inputs it refuses with what to
do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from catalog.samples import SAMPLE_CATALOG, SAMPLE_JUDGMENTS, SAMPLE_QUERIES
from search.cli.main import main
from search.ranking.features import FEATURES
from search.ranking.model import load_ranker
from tests.conftest import make_product


def test_train_writes_a_loadable_ranker_with_a_card(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ranker"
    code = main(["ranker", "train", "--catalog", str(SAMPLE_CATALOG),
                 "--queries", str(SAMPLE_QUERIES), "--judgments", str(SAMPLE_JUDGMENTS),
                 "--out", str(out), "--recall", "bm25", "--json"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    card = json.loads(capsys.readouterr().out)
    assert card["data"]["queries"] == 80 and card["data"]["judged_pairs"] > 0
    assert set(card["data"]["languages"]) >= {"en", "de", "zh"}
    held = card["heldout"]
    assert held["queries"] == len(card["split"]["heldout"]) > 0
    assert {"ranker", "fused", "bm25", "p_fused", "p_bm25", "languages"} <= set(held)
    ranker = load_ranker(str(out))
    assert ranker is not None and ranker.features == FEATURES
    assert ranker.card == {k: v for k, v in card.items() if k != "out"}


def _shop(tmp_path: Path, products: int = 12) -> Path:
    catalog = tmp_path / "catalog.jsonl"
    rows = [
        make_product(id=f"p{i}", title=f"Bottle model {i}", description=f"bottle number {i}")
        for i in range(products)
    ]
    catalog.write_text("".join(p.model_dump_json() + "\n" for p in rows), encoding="utf-8")
    return catalog


def _judged(tmp_path: Path, queries: int, grades: list[tuple[str, int]]) -> tuple[Path, Path]:
    query_file, judgment_file = tmp_path / "q.jsonl", tmp_path / "j.jsonl"
    query_file.write_text(
        "".join(
            json.dumps({"query_id": f"q{i}", "locale": "en-US", "text": f"bottle model {i}"}) + "\n"
            for i in range(queries)
        ),
        encoding="utf-8",
    )
    judgment_file.write_text(
        "".join(
            json.dumps({"query_id": f"q{i}", "product_id": pid, "grade": grade}) + "\n"
            for i in range(queries)
            for pid, grade in grades
        ),
        encoding="utf-8",
    )
    return query_file, judgment_file


# (what is wrong, queries, judgments of each query, what the error says)
BAD_INPUT = [
    ("no judged product in the catalog", 12, [("unknown-1", 2), ("unknown-2", 0)],
     "none of the 12 judged queries has a judged product in the catalog"),
    ("a single grade", 12, [("p1", 2), ("p2", 2)], "at least two grades"),
    ("too few queries", 3, [("p1", 2), ("p2", 0)], "needs at least 10"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("what", "queries", "grades", "says"), BAD_INPUT, ids=[b[0] for b in BAD_INPUT]
)
def test_bad_input_is_refused_with_what_to_do(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    what: str,
    queries: int,
    grades: list[tuple[str, int]],
    says: str,
) -> None:
    query_file, judgment_file = _judged(tmp_path, queries, grades)
    code = main(["ranker", "train", "--catalog", str(_shop(tmp_path)),
                 "--queries", str(query_file), "--judgments", str(judgment_file),
                 "--out", str(tmp_path / "out"), "--recall", "bm25"])  # fmt: skip
    assert code == 2
    assert says in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
