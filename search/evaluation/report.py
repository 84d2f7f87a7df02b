"""Evaluation results as text tables for people and as plain data for ``--json``."""

from __future__ import annotations

from collections.abc import Sequence

from search.evaluation.compare import TEST_NAME, TOLERANCE, MetricComparison
from search.evaluation.metrics import RELEVANT_GRADE, RunEvaluation
from search.evaluation.run import RankedQueries

DELTAS_SHOWN = 10  # per direction, in the human report; --json has every query


def evaluation_table(label: str, evaluation: RunEvaluation, k: int) -> str:
    """The per-language table of one configuration, overall first."""
    summary = evaluation.summary()
    header = ["language", "queries", *evaluation.metrics, f"judged@{k}", f"unjudged@{k}"]
    widths = [max(8, len(h)) for h in header]
    lines = [
        f"{label}: {len(evaluation.queries)} judged queries "
        f"(relevant: grade >= {RELEVANT_GRADE}; unjudged results count as not relevant)",
        "  "
        + "  ".join(
            h.rjust(w) if i else h.ljust(w)
            for i, (h, w) in enumerate(zip(header, widths, strict=True))
        ),
    ]
    for language, row in summary.items():
        cells = [language.ljust(widths[0]), str(int(row["queries"])).rjust(widths[1])]
        cells += [
            f"{row[m]:.4f}".rjust(w) for m, w in zip(evaluation.metrics, widths[2:], strict=False)
        ]
        cells += [
            str(int(row["judged"])).rjust(widths[-2]),
            str(int(row["unjudged"])).rjust(widths[-1]),
        ]
        lines.append("  " + "  ".join(cells))
    return "\n".join(lines)


def notes(ranked: RankedQueries, evaluation: RunEvaluation) -> list[str]:
    """Warnings a reader must see: queries left out of the averages, and why."""
    out = []
    if evaluation.without_judgments:
        ids = ", ".join(evaluation.without_judgments)
        out.append(
            f"{len(evaluation.without_judgments)} query(ies) have no judgments and are left out "
            f"of the averages: {ids}"
        )
    if evaluation.judgments_without_query:
        ids = ", ".join(evaluation.judgments_without_query)
        out.append(
            f"judgments name {len(evaluation.judgments_without_query)} query id(s) absent from "
            f"the queries file: {ids}"
        )
    for query_id, reason in ranked.failed.items():
        out.append(f"query {query_id} returned nothing: {reason}")
    return out


def comparison_table(label_a: str, label_b: str, comparisons: Sequence[MetricComparison]) -> str:
    """Means of A and B, the difference, its p-value and the per-query win/loss counts."""
    n = len(comparisons[0].deltas) if comparisons else 0
    lines = [
        f"A = {label_a}   B = {label_b}   ({n} queries judged in both)",
        f"  {'metric':<16}  {'A':>7}  {'B':>7}  {'B - A':>8}  {'p':>7}  "
        f"{'better':>6}  {'worse':>6}  {'same':>6}",
    ]
    for c in comparisons:
        lines.append(
            f"  {c.metric:<16}  {c.mean_a:>7.4f}  {c.mean_b:>7.4f}  {c.delta:>+8.4f}  "
            f"{c.p_value:>7.4f}  {c.improved:>6}  {c.worsened:>6}  {c.unchanged:>6}"
        )
    lines.append(f"  p: {TEST_NAME}")
    if comparisons:
        first = comparisons[0]
        changed = [d for d in first.deltas if abs(d.delta) > TOLERANCE]
        better = changed[:DELTAS_SHOWN]
        worse = [d for d in reversed(changed) if d.delta < 0][:DELTAS_SHOWN]
        lines.append(
            f"  {first.metric} per query, B - A (largest changes; --json lists every query):"
        )
        for d in [x for x in better if x.delta > 0] + worse:
            lines.append(
                f"    {d.delta:>+8.4f}  {d.query_id:<16} {d.language:<8} {d.a:.4f} -> {d.b:.4f}"
            )
    return "\n".join(lines)


def evaluation_data(ranked: RankedQueries, evaluation: RunEvaluation, k: int) -> dict[str, object]:
    """One configuration's results as JSON-ready data."""
    return {
        "config": ranked.config.label,
        "k": k,
        "recall_k": ranked.config.recall_k,
        "rerank": ranked.config.rerank,
        "relevant_grade": RELEVANT_GRADE,
        "summary": evaluation.summary(),
        "queries": [
            {
                "query_id": q.query_id,
                "language": q.language,
                **q.scores,
                "judged": q.judged,
                "unjudged": q.unjudged,
            }
            for q in evaluation.queries
        ],
        "without_judgments": evaluation.without_judgments,
        "judgments_without_query": evaluation.judgments_without_query,
        "failed": ranked.failed,
    }


def comparison_data(
    label_a: str, label_b: str, comparisons: Sequence[MetricComparison]
) -> dict[str, object]:
    """A comparison as JSON-ready data, every query's difference included."""
    return {
        "a": label_a,
        "b": label_b,
        "test": TEST_NAME,
        "metrics": [
            {
                "metric": c.metric,
                "mean_a": c.mean_a,
                "mean_b": c.mean_b,
                "delta": c.delta,
                "p_value": c.p_value,
                "improved": c.improved,
                "worsened": c.worsened,
                "unchanged": c.unchanged,
                "queries": [
                    {
                        "query_id": d.query_id,
                        "language": d.language,
                        "a": d.a,
                        "b": d.b,
                        "delta": d.delta,
                    }
                    for d in c.deltas
                ],
            }
            for c in comparisons
        ],
    }
