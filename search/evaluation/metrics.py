"""IR metrics as pure functions over one ranking and its judgments, and their averages.

Definitions follow trec_eval (and so ``ir_measures``/``pytrec_eval``, which the tests check them
against to 1e-9):

- nDCG@k (trec_eval ``ndcg_cut``): linear gain, the grade itself (0-3), discounted by
  log2(rank + 1); divided by the DCG of the ideal ordering of *every* judged product, so a
  relevant product the run never retrieved still lowers the score.
- MRR@k (``recip_rank`` on the top k): 1 / rank of the first relevant product, 0 if none.
- P@k (``P_k``): relevant products in the top k, divided by k even when fewer were returned.
- R@k (``recall_k``): relevant products in the top k, divided by all relevant judged products.

"Relevant" for the binary metrics means grade >= 1 (``RELEVANT_GRADE``; ``rel=1`` in
ir_measures). Unjudged products count as not relevant; how many there were is reported. A query
whose judgments are all 0 scores 0 on every metric, as in trec_eval; a query with no judgments
at all is left out of the averages by the caller (``evaluate_run``) and reported.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

RELEVANT_GRADE = 1

Ranking = Sequence[str]
Grades = Mapping[str, int]


def dcg(gains: Iterable[float]) -> float:
    """Discounted cumulative gain of gains in rank order: sum of gain / log2(rank + 1)."""
    return sum(gain / math.log2(rank + 1) for rank, gain in enumerate(gains, start=1))


def ndcg_at_k(ranking: Ranking, grades: Grades, k: int) -> float:
    """nDCG@k with linear gain (trec_eval ``ndcg_cut``); 0 when nothing judged is relevant."""
    ideal = dcg(sorted((g for g in grades.values() if g > 0), reverse=True)[:k])
    if ideal == 0:
        return 0.0
    return dcg(max(grades.get(doc, 0), 0) for doc in ranking[:k]) / ideal


def mrr_at_k(ranking: Ranking, grades: Grades, k: int) -> float:
    """Reciprocal rank of the first relevant product in the top k, 0 if there is none."""
    for rank, doc in enumerate(ranking[:k], start=1):
        if grades.get(doc, 0) >= RELEVANT_GRADE:
            return 1.0 / rank
    return 0.0


def _relevant_in_top(ranking: Ranking, grades: Grades, k: int) -> int:
    return sum(1 for doc in ranking[:k] if grades.get(doc, 0) >= RELEVANT_GRADE)


def precision_at_k(ranking: Ranking, grades: Grades, k: int) -> float:
    """Relevant products in the top k divided by k (a short ranking is not excused)."""
    return _relevant_in_top(ranking, grades, k) / k


def recall_at_k(ranking: Ranking, grades: Grades, k: int) -> float:
    """Relevant products in the top k divided by all relevant judged products (0 if none)."""
    relevant = sum(1 for g in grades.values() if g >= RELEVANT_GRADE)
    return _relevant_in_top(ranking, grades, k) / relevant if relevant else 0.0


def trec_order(scores: Mapping[str, float]) -> list[str]:
    """Product ids as trec_eval ranks them: by score, highest first, ties by id descending."""
    return [doc for doc, _ in sorted(scores.items(), key=lambda s: (s[1], s[0]), reverse=True)]


def metric_names(k: int, recall_ks: Sequence[int]) -> list[str]:
    """The metric names ``score_query`` reports, in display order."""
    return [f"nDCG@{k}", f"MRR@{k}", f"P@{k}", f"R@{k}", *(f"R@{rk}" for rk in recall_ks)]


def score_query(
    ranking: Ranking, grades: Grades, k: int, recall_ks: Sequence[int] = ()
) -> dict[str, float]:
    """Every metric of one ranked list, named as ``metric_names`` names them."""
    scores = {
        f"nDCG@{k}": ndcg_at_k(ranking, grades, k),
        f"MRR@{k}": mrr_at_k(ranking, grades, k),
        f"P@{k}": precision_at_k(ranking, grades, k),
        f"R@{k}": recall_at_k(ranking, grades, k),
    }
    for recall_k in recall_ks:
        scores[f"R@{recall_k}"] = recall_at_k(ranking, grades, recall_k)
    return scores


@dataclass(frozen=True)
class QueryEvaluation:
    """The metrics of one judged query, and how much of its top k was judged at all."""

    query_id: str
    language: str
    scores: dict[str, float]
    judged: int  # products in the top k that have a judgment (of any grade)
    unjudged: int  # products in the top k without one: counted as not relevant


@dataclass
class RunEvaluation:
    """A run scored against judgments: per query, and which queries could not be scored."""

    metrics: list[str]
    queries: list[QueryEvaluation]
    without_judgments: list[str] = field(default_factory=list)  # left out of every average
    judgments_without_query: list[str] = field(default_factory=list)  # judged ids never run

    def summary(self) -> dict[str, dict[str, float]]:
        """Mean of each metric overall ("all") and per language, with query and judged counts."""
        groups: dict[str, list[QueryEvaluation]] = {"all": list(self.queries)}
        for query in sorted(self.queries, key=lambda q: q.language):
            groups.setdefault(query.language, []).append(query)
        return {name: _mean(members, self.metrics) for name, members in groups.items()}


def _mean(queries: Sequence[QueryEvaluation], metrics: Sequence[str]) -> dict[str, float]:
    row: dict[str, float] = {"queries": len(queries)}
    for name in metrics:
        row[name] = sum(q.scores[name] for q in queries) / len(queries) if queries else 0.0
    row["judged"] = sum(q.judged for q in queries)
    row["unjudged"] = sum(q.unjudged for q in queries)
    return row


def evaluate_run(
    rankings: Mapping[str, Ranking],
    qrels: Mapping[str, Grades],
    languages: Mapping[str, str],
    k: int,
    recall_ks: Sequence[int] = (),
) -> RunEvaluation:
    """Score every ranked query that has judgments; list those without, instead of zeroing them.

    ``languages`` maps query id to the language it is averaged under.
    """
    result = RunEvaluation(metrics=metric_names(k, recall_ks), queries=[])
    for query_id, ranking in rankings.items():
        grades = qrels.get(query_id)
        if not grades:
            result.without_judgments.append(query_id)
            continue
        judged = sum(1 for doc in ranking[:k] if doc in grades)
        result.queries.append(
            QueryEvaluation(
                query_id=query_id,
                language=languages.get(query_id, "unknown"),
                scores=score_query(ranking, grades, k, recall_ks),
                judged=judged,
                unjudged=min(k, len(ranking)) - judged,
            )
        )
    result.judgments_without_query = sorted(set(qrels) - set(rankings))
    return result
