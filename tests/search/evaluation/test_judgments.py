"""Judgment and query readers: every format, every malformed line reported by number."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from search.errors import EvaluationInputError
from search.evaluation.judgments import EvalQuery, parse_grade, read_judgments, read_queries


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_trec_qrels_are_read_with_their_grades(tmp_path: Path) -> None:
    path = write(tmp_path, "q.qrels", "q1 0 p1 3\nq1 0 p2 0\n\n# comment\nq2 0 p1 1\n")
    assert read_judgments(path) == {"q1": {"p1": 3, "p2": 0}, "q2": {"p1": 1}}


def test_jsonl_judgments_accept_numeric_ids_and_esci_labels(tmp_path: Path) -> None:
    lines = [
        {"query_id": 7, "product_id": "p1", "grade": "Exact"},
        {"query_id": "7", "product_id": "p2", "grade": "substitute"},
        {"query_id": "7", "product_id": "p3", "grade": "C"},
        {"query_id": "7", "product_id": "p4", "grade": "Irrelevant"},
    ]
    path = write(tmp_path, "j.jsonl", "".join(json.dumps(line) + "\n" for line in lines))
    assert read_judgments(path) == {"7": {"p1": 3, "p2": 2, "p3": 1, "p4": 0}}


@pytest.mark.parametrize(
    ("label", "grade"),
    [("Exact", 3), ("Substitute", 2), ("Complement", 1), ("Irrelevant", 0), ("e", 3), ("2", 2)],
)
def test_esci_labels_map_to_grades(label: str, grade: int) -> None:
    assert parse_grade(label) == grade


@pytest.mark.parametrize("bad", ["4", "-1", "good", True, 1.5, None])
def test_grades_outside_zero_to_three_are_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_grade(bad)


def test_every_malformed_qrels_line_is_reported_by_number(tmp_path: Path) -> None:
    text = "q1 0 p1 3\nq1 p2 1\nq1 0 p3 great\nq1 0 p4 2\nq1 0 p1 1\n"
    with pytest.raises(EvaluationInputError) as info:
        read_judgments(write(tmp_path, "q.qrels", text))
    message = str(info.value)
    assert "3 malformed judgment line(s)" in message
    assert "line 2: expected 4 fields 'qid 0 docid grade', got 3" in message
    assert "line 3: grade 'great' is neither an integer 0-3 nor an ESCI label" in message
    assert "line 5: q1 p1 judged 1 here and 3 on line 1" in message
    assert "line 4" not in message


def test_malformed_jsonl_judgments_name_the_line_and_field(tmp_path: Path) -> None:
    text = (
        '{"query_id": "q", "product_id": "p", "grade": 1}\n'
        '{"query_id": "q"\n'
        '{"query_id": "q", "grade": 1}\n'
    )
    with pytest.raises(EvaluationInputError) as info:
        read_judgments(write(tmp_path, "j.jsonl", text))
    assert "line 2: not valid JSON" in str(info.value)
    assert "line 3: product_id: required field is missing" in str(info.value)


def test_an_empty_judgments_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(EvaluationInputError, match="no judgments found"):
        read_judgments(write(tmp_path, "q.qrels", "\n# nothing\n"))


def test_a_missing_file_is_an_error_that_names_it(tmp_path: Path) -> None:
    with pytest.raises(EvaluationInputError, match="cannot open judgments file .*nope"):
        read_judgments(tmp_path / "nope.qrels")


def test_tsv_queries_take_an_optional_locale_column(tmp_path: Path) -> None:
    path = write(tmp_path, "q.tsv", "1\tcoffee beans\n2\tKaffeebohnen\tde_de\n3\tcafé\tes\n")
    assert read_queries(path) == [
        EvalQuery("1", "coffee beans", None),
        EvalQuery("2", "Kaffeebohnen", "de-DE"),
        EvalQuery("3", "café", "es"),
    ]


def test_jsonl_queries_are_read_in_file_order(tmp_path: Path) -> None:
    text = '{"query_id": "b", "text": "x", "locale": "en-US"}\n{"query_id": "a", "text": "y"}\n'
    queries = read_queries(write(tmp_path, "q.jsonl", text))
    assert [(q.query_id, q.language) for q in queries] == [("b", "en"), ("a", "unknown")]


def test_every_malformed_query_line_is_reported_by_number(tmp_path: Path) -> None:
    text = "1\tok\n2 no tab\n3\tbad locale\txx-XX\n1\tagain\n4\t\n"
    with pytest.raises(EvaluationInputError) as info:
        read_queries(write(tmp_path, "q.tsv", text))
    message = str(info.value)
    assert "line 2: expected 'qid<TAB>text'" in message
    assert "line 3: locale: unknown locale 'xx-XX'" in message
    assert "line 4: query id 1 is already on line 1" in message
    assert "line 5: text:" in message


safe_id = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=12)


@given(
    st.dictionaries(safe_id, st.dictionaries(safe_id, st.integers(0, 3), min_size=1), min_size=1)
)
def test_qrels_written_as_trec_or_jsonl_read_back_the_same(
    qrels: dict[str, dict[str, int]],
) -> None:
    trec = "".join(f"{q} 0 {d} {g}\n" for q, docs in qrels.items() for d, g in docs.items())
    jsonl = "".join(
        json.dumps({"query_id": q, "product_id": d, "grade": g}) + "\n"
        for q, docs in qrels.items()
        for d, g in docs.items()
    )
    with tempfile.TemporaryDirectory() as tmp:  # tmp_path is shared by hypothesis examples
        for text in (trec, jsonl):
            path = write(Path(tmp), "j", text)
            assert read_judgments(path) == qrels


@given(st.text(max_size=200))
def test_any_text_is_either_read_or_refused_with_a_clear_error(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = write(Path(tmp), "anything", text)
        for reader in (read_judgments, read_queries):
            try:
                reader(path)
            except EvaluationInputError as exc:
                assert str(path) in str(exc)
