"""TREC run files: ``qid Q0 docid rank score tag``, one line per ranked product.

trec_eval ignores the rank column and orders by score (ties by docid, descending). So that any
standard tool reads a Shelf run in the order Shelf ranked it, scores are written with six
decimals and made strictly decreasing: a score that would tie or exceed the one above it is
written one millionth below it. Reading a run back orders it the way trec_eval does.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from search.errors import EvaluationInputError
from search.evaluation.judgments import LineErrors
from search.evaluation.metrics import trec_order

#: query id -> ranked (product id, score), best first.
Run = dict[str, list[tuple[str, float]]]

SCORE_DECIMALS = 6


def strictly_decreasing(scores: Sequence[float]) -> list[float]:
    """Scores rounded to six decimals, each lowered by as little as needed to be below the last."""
    step = 10**SCORE_DECIMALS
    out: list[int] = []
    for score in scores:
        micro = round(score * step)
        out.append(min(micro, out[-1] - 1) if out else micro)
    return [micro / step for micro in out]


def format_run(run: Mapping[str, Sequence[tuple[str, float]]], tag: str) -> Iterator[str]:
    """The lines of a TREC run file, queries in the given order, products in rank order."""
    if not tag or any(ch.isspace() for ch in tag):
        raise ValueError(f"a run tag must be one word (got {tag!r})")
    for query_id, ranked in run.items():
        scores = strictly_decreasing([score for _, score in ranked])
        for rank, ((doc, _), score) in enumerate(zip(ranked, scores, strict=True), start=1):
            yield f"{query_id} Q0 {doc} {rank} {score:.{SCORE_DECIMALS}f} {tag}\n"


def write_run(run: Mapping[str, Sequence[tuple[str, float]]], path: Path, tag: str) -> None:
    """Write ``run`` to ``path`` in TREC run format."""
    try:
        with path.open("w", encoding="utf-8") as out:
            out.writelines(format_run(run, tag))
    except OSError as exc:
        raise EvaluationInputError(f"cannot write the run file {path}: {exc.strerror}") from exc


def read_run(path: Path) -> Run:
    """A TREC run file, each query's products in trec_eval's order; bad lines raise one error."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EvaluationInputError(f"cannot read the run file {path}: {exc}") from exc
    scores: dict[str, dict[str, float]] = {}
    errors = LineErrors(path, "run")
    for line_no, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 6:
            errors.add(line_no, "expected 'qid Q0 docid rank score tag'")
            continue
        try:
            score = float(fields[4])
        except ValueError:
            errors.add(line_no, f"score {fields[4]!r} is not a number")
            continue
        scores.setdefault(fields[0], {})[fields[2]] = score
    errors.raise_if_any()
    return {qid: [(doc, docs[doc]) for doc in trec_order(docs)] for qid, docs in scores.items()}
