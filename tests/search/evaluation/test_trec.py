"""TREC run files: written in Shelf's order, read back in trec_eval's, the same run."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from search.errors import EvaluationInputError
from search.evaluation.trec import format_run, read_run, strictly_decreasing, write_run


def test_run_lines_have_the_six_trec_columns() -> None:
    lines = list(format_run({"q1": [("p9", 2.5), ("p3", 1.0)]}, "shelf-bm25-k50"))
    assert lines == [
        "q1 Q0 p9 1 2.500000 shelf-bm25-k50\n",
        "q1 Q0 p3 2 1.000000 shelf-bm25-k50\n",
    ]


def test_tied_scores_are_written_strictly_decreasing_in_rank_order() -> None:
    assert strictly_decreasing([3.0, 3.0, 3.0, 2.9999995, 1.0]) == [
        3.0,
        2.999999,
        2.999998,
        2.999997,
        1.0,
    ]


def test_a_tied_run_reads_back_in_the_order_it_was_ranked(tmp_path: Path) -> None:
    # trec_eval would put "b" before "a" on a tie (docid descending); the written scores prevent it.
    run = {"q": [("a", 1.0), ("b", 1.0), ("c", 0.5)]}
    write_run(run, tmp_path / "run.trec", "t")
    assert [doc for doc, _ in read_run(tmp_path / "run.trec")["q"]] == ["a", "b", "c"]


def test_a_run_tag_with_spaces_is_refused() -> None:
    with pytest.raises(ValueError, match="one word"):
        list(format_run({"q": [("a", 1.0)]}, "two words"))


def test_malformed_run_lines_are_reported_by_number(tmp_path: Path) -> None:
    path = tmp_path / "run.trec"
    path.write_text("q Q0 a 1 1.0 t\nq Q0 b 2\nq Q0 c 3 high t\n", encoding="utf-8")
    with pytest.raises(EvaluationInputError) as info:
        read_run(path)
    assert "line 2: expected 'qid Q0 docid rank score tag'" in str(info.value)
    assert "line 3: score 'high' is not a number" in str(info.value)


doc_ids = st.text(alphabet="abcdefghij0123456789-", min_size=1, max_size=8)
rankings = st.dictionaries(
    doc_ids,
    st.lists(
        st.tuples(doc_ids, st.floats(-1e6, 1e6, allow_nan=False)),
        min_size=1,
        max_size=20,
        unique_by=lambda item: item[0],
    ),
    min_size=1,
    max_size=5,
)


@given(rankings)
def test_a_written_run_reads_back_in_the_same_order(
    run: dict[str, list[tuple[str, float]]],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:  # tmp_path is shared by hypothesis examples
        path = Path(tmp) / "run.trec"
        write_run(run, path, "shelf")
        back = read_run(path)
    assert {q: [doc for doc, _ in items] for q, items in back.items()} == {
        q: [doc for doc, _ in items] for q, items in run.items()
    }
