"""Training the learned ranker: candidates and their features collected through the one search
path, labels from judgments, LightGBM's LambdaMART, and a model card measured on held-out
queries.

The split is by query, never by pair: a query's candidates are all in training or all held out,
and queries of one ``family`` (a query and its misspelled variant) go together. It is
stratified by language and decided by a hash of the seed and the family, so the same data and
seed always hold out the same queries. The number of boosting rounds is chosen by
cross-validation over the training queries only (``FOLDS`` folds by query family: one
validation split of a few dozen queries is too noisy to stop on); the held-out queries are
scored once, for the card.
"""

from __future__ import annotations

import hashlib
import math
import sys
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from catalog.locales import language_of
from search.errors import EvaluationInputError, InvalidQuery
from search.evaluation.compare import TEST_NAME, compare_metric
from search.evaluation.judgments import EvalQuery
from search.evaluation.metrics import RunEvaluation, evaluate_run
from search.pipeline.request import search_request
from search.pipeline.service import SearchService
from search.ranking.features import FEATURE_VERSION, FEATURES, INDEX, RankTrace

METRIC_K = 10
MIN_QUERIES = 10  # judged queries with candidates: enough to train, validate and hold out
MIN_HELDOUT = 2
DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "lambdarank",
    "metric": "ndcg",
    "eval_at": [METRIC_K],
    # Linear gain, as shelf eval's nDCG (grade 0-3), not LightGBM's default 2^grade - 1.
    "label_gain": [0.0, 1.0, 2.0, 3.0],
    # Small data (tens to thousands of queries): shallow trees, many rows per leaf.
    "num_leaves": 7,
    "min_data_in_leaf": 20,
    "min_sum_hessian_in_leaf": 1e-3,
    "learning_rate": 0.05,
    "feature_fraction": 0.8,
    "lambda_l2": 1.0,
    "num_threads": 1,
    "deterministic": True,
    "force_row_wise": True,
    "verbose": -1,
}
MAX_ROUNDS = 300
FOLDS = 4  # the training queries' folds that choose the number of boosting rounds


@dataclass(frozen=True)
class QueryGroup:
    """One query's candidates in the training data: rows ``start`` to ``start + size`` of
    ``TrainingData.features``, in fused order; its judgments (``grades``: every judged
    product, found or not), the family it is split with and the stratum its family is split
    in (empty: its language)."""

    query_id: str
    language: str
    start: int
    size: int
    grades: Mapping[str, int]
    family: str
    product_ids: tuple[str, ...] = ()
    stratum: str = ""


@dataclass
class TrainingData:
    """Feature rows (``FEATURES``) and grades (0: unjudged) of every candidate of every
    judged query, grouped by query; the queries left out and why."""

    features: np.ndarray
    labels: np.ndarray
    groups: list[QueryGroup]
    skipped: dict[str, str] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)

    def merged(self, other: TrainingData) -> TrainingData:
        """This data followed by ``other``'s queries."""
        offset = len(self.labels)
        groups = [*self.groups]
        groups += [_moved(g, g.start + offset) for g in other.groups]
        return TrainingData(
            np.vstack([self.features, other.features]),
            np.concatenate([self.labels, other.labels]),
            groups,
            {**self.skipped, **other.skipped},
            [*self.sources, *other.sources],
        )

    def summary(self) -> dict[str, Any]:
        """Queries, pairs, judged pairs, the grades' distribution and the languages."""
        judged = sum(1 for g in self.groups for pid in g.product_ids if pid in g.grades)
        return {
            "queries": len(self.groups),
            "pairs": int(len(self.labels)),
            "judged_pairs": judged,
            "grades": {str(k): v for k, v in sorted(Counter(self.labels.tolist()).items())},
            "languages": dict(sorted(Counter(g.language for g in self.groups).items())),
            "skipped_queries": len(self.skipped),
            "sources": self.sources,
        }


def _moved(group: QueryGroup, start: int) -> QueryGroup:
    return QueryGroup(
        group.query_id, group.language, start, group.size, group.grades, group.family,
        group.product_ids, group.stratum,
    )  # fmt: skip


def collect_training_data(
    service: SearchService,
    queries: Sequence[EvalQuery],
    qrels: Mapping[str, Mapping[str, int]],
    *,
    progress: bool = True,
    rerank: bool = False,
    recall: str | None = None,
    family: Callable[[str], str] | None = None,
    source: str | None = None,
) -> TrainingData:
    """The candidates of every judged query and their features, through ``service.search``
    (relevance order, the ranker disabled, ``rerank``: the cross-encoder feature computed) as
    ``shelf eval`` sends them; grades from ``qrels`` (unjudged: 0). ``family`` names the group
    a query is split with (default: its id); ``source`` names the data (its queries are split
    per source and language). ``EvaluationInputError`` when no judged query has a judged
    product in the catalog."""
    from tqdm import tqdm

    unranked = service.with_config(ranker=None)
    rows: list[np.ndarray] = []
    labels: list[int] = []
    groups: list[QueryGroup] = []
    skipped: dict[str, str] = {}
    start = 0
    judged_queries = [q for q in queries if qrels.get(q.query_id)]
    for query in tqdm(judged_queries, desc="ranker features", unit="query", file=sys.stderr,
                      disable=not progress):  # fmt: skip
        grades = qrels[query.query_id]
        if not service.recall.products(list(grades)):
            skipped[query.query_id] = "no judged product is in the catalog"
            continue
        trace = RankTrace()
        try:
            response = unranked.search(
                search_request(
                    query.text,
                    sort="relevance",
                    page=1,
                    size=METRIC_K,
                    rerank=rerank,
                    recall_k=service.config.recall_k,
                    product_locale=query.product_locale,
                    lang=query.locale,
                    recall=recall,
                ),  # fmt: skip
                trace=trace,
            )
        except InvalidQuery as exc:
            skipped[query.query_id] = str(exc)
            continue
        if trace.features is None or not trace.product_ids:
            skipped[query.query_id] = "no candidate was found"
            continue
        language = (
            query.language
            if query.locale or response.language is None
            else language_of(response.language).code
        )
        size = len(trace.product_ids)
        rows.append(trace.features)
        labels.extend(max(grades.get(pid, 0), 0) for pid in trace.product_ids)
        groups.append(
            QueryGroup(
                query.query_id,
                language,
                start,
                size,
                dict(grades),
                family(query.query_id) if family else query.query_id,
                tuple(trace.product_ids),
                f"{source}:{language}" if source else language,
            )  # fmt: skip
        )
        start += size
    for query in queries:
        if not qrels.get(query.query_id):
            skipped.setdefault(query.query_id, "no judgments")
    if not groups:
        raise EvaluationInputError(
            f"none of the {len(judged_queries)} judged queries has a judged product in the "
            "catalog (or any candidate): check that the judgments' product ids are the "
            "catalog's and the queries' ids the judgments'"
        )
    features = np.vstack(rows) if rows else np.zeros((0, len(FEATURES)), dtype=np.float32)
    return TrainingData(
        features, np.array(labels, dtype=np.int32), groups, skipped, [source] if source else []
    )


def split_families(
    groups: Sequence[QueryGroup], fraction: float, seed: int
) -> tuple[set[str], set[str]]:
    """The families (kept, taken): per stratum (a family's first query's: its source and
    language), the ``fraction`` of its families first by ``sha256(seed:family)`` are taken (at
    least one when the fraction is above 0)."""
    by_language: dict[str, list[str]] = {}
    seen: set[str] = set()
    for group in groups:
        if group.family not in seen:
            seen.add(group.family)
            by_language.setdefault(group.stratum or group.language, []).append(group.family)
    taken: set[str] = set()
    for families in by_language.values():
        ordered = sorted(families, key=lambda f: hashlib.sha256(f"{seed}:{f}".encode()).digest())
        count = round(fraction * len(ordered))
        if fraction > 0 and count == 0 and len(ordered) > 1:
            count = 1
        taken.update(ordered[:count])
    every = {g.family for g in groups}
    return every - taken, taken


def _subset(data: TrainingData, families: set[str]) -> tuple[np.ndarray, np.ndarray, list[int]]:
    chosen = [g for g in data.groups if g.family in families]
    rows = np.concatenate([np.arange(g.start, g.start + g.size) for g in chosen])
    return data.features[rows], data.labels[rows], [g.size for g in chosen]


@dataclass
class TrainedRanker:
    """A trained LightGBM booster, its parameters and model card; ``save`` writes a ranker
    directory ``LearnedRanker.load`` reads."""

    model_text: str
    params: dict[str, Any]
    card: dict[str, Any]

    def save(self, out_dir: Path) -> Path:
        """Write ``model.txt`` and ``ranker.json`` into ``out_dir`` (created); returns it."""
        import json

        from search.ranking.model import CARD_FILE, FORMAT, MODEL_FILE

        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / MODEL_FILE).write_text(self.model_text, encoding="utf-8")
        meta = {
            "format": FORMAT,
            "feature_version": FEATURE_VERSION,
            "features": list(FEATURES),
            "params": self.params,
            "card": self.card,
        }
        text = json.dumps(meta, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
        (out_dir / CARD_FILE).write_text(text, encoding="utf-8")
        return out_dir


def check_trainable(data: TrainingData) -> None:
    """``EvaluationInputError`` for data that cannot train a ranker: too few queries, or a
    single grade."""
    families = {g.family for g in data.groups}
    if len(data.groups) < MIN_QUERIES or len(families) < MIN_QUERIES:
        raise EvaluationInputError(
            f"only {len(families)} judged queries with candidates; a ranker needs at least "
            f"{MIN_QUERIES} (to train, validate and hold some out): judge more queries"
        )
    grades = {g for group in data.groups for g in group.grades.values()}
    if len(set(data.labels.tolist())) < 2 or len(grades) < 2:
        raise EvaluationInputError(
            f"every judged product has grade {sorted(grades)[0] if grades else 0}: a ranker "
            "learns from differences, so judgments need at least two grades (e.g. relevant "
            "ones and irrelevant ones)"
        )


def train_ranker(
    data: TrainingData,
    *,
    holdout_fraction: float = 0.25,
    seed: int = 0,
    params: Mapping[str, Any] | None = None,
) -> TrainedRanker:
    """A LambdaMART ranker (LightGBM ``lambdarank``) trained on ``data`` less the held-out
    queries (``holdout_fraction`` of each language, by query family and ``seed``), with early
    stopping by cross-validation over the training queries; the card compares it on the
    held-out queries with the fused order and the BM25 order (nDCG@10, paired test)."""
    import lightgbm

    check_trainable(data)
    if not 0.0 <= holdout_fraction < 1.0:
        raise EvaluationInputError(f"--holdout must be in [0, 1) (got {holdout_fraction})")
    settings = {**DEFAULT_PARAMS, "seed": seed, **(params or {})}
    train_families, heldout = split_families(data.groups, holdout_fraction, seed)
    trainable = [g for g in data.groups if g.family in train_families]
    if len(train_families) < FOLDS:
        raise EvaluationInputError(
            f"only {len(train_families)} training queries after holding out {len(heldout)}: "
            f"a ranker needs at least {MIN_QUERIES}; lower --holdout or judge more queries"
        )
    rounds, curve = cross_validated_rounds(data, trainable, settings, seed)
    # The number of rounds is chosen on the folds; the model then learns from every training
    # query for that many rounds.
    x_train, y_train, g_train = _subset(data, train_families)
    train_set = lightgbm.Dataset(x_train, y_train, group=g_train, feature_name=list(FEATURES))
    booster = lightgbm.train(settings, train_set, num_boost_round=rounds)
    card: dict[str, Any] = {
        "data": data.summary(),
        "split": {
            "by": "query (families together), stratified by language, sha256(seed:family)",
            "seed": seed,
            "holdout_fraction": holdout_fraction,
            "train_queries": sum(1 for g in data.groups if g.family in train_families),
            "heldout_queries": sum(1 for g in data.groups if g.family in heldout),
            "heldout": sorted(g.query_id for g in data.groups if g.family in heldout),
        },
        "training": {
            "objective": "lambdarank (LightGBM)",
            "rounds": rounds,
            "cv_folds": FOLDS,
            f"cv_ndcg@{METRIC_K}": round(curve, 4),
        },
        "heldout": heldout_card(data, heldout, lambda x: np.asarray(booster.predict(x)))
        if heldout
        else None,
        "importance": _importance(booster),
    }
    return TrainedRanker(booster.model_to_string(), _jsonable(settings), card)


def cross_validated_rounds(
    data: TrainingData, groups: Sequence[QueryGroup], settings: Mapping[str, Any], seed: int
) -> tuple[int, float]:
    """The number of boosting rounds (1 to ``MAX_ROUNDS``) with the best mean nDCG@10 over
    ``FOLDS`` folds of ``groups``' families (``sha256(seed+1:family)`` order, dealt in turn),
    and that mean."""
    import lightgbm

    families = sorted(
        {g.family for g in groups},
        key=lambda f: hashlib.sha256(f"{seed + 1}:{f}".encode()).digest(),
    )
    curves = []
    for fold in range(FOLDS):
        validation = set(families[fold::FOLDS])
        x_fit, y_fit, g_fit = _subset(data, set(families) - validation)
        x_val, y_val, g_val = _subset(data, validation)
        fit_set = lightgbm.Dataset(x_fit, y_fit, group=g_fit, feature_name=list(FEATURES))
        val_set = lightgbm.Dataset(x_val, y_val, group=g_val, reference=fit_set)
        history: dict[str, Any] = {}
        lightgbm.train(
            dict(settings), fit_set, num_boost_round=MAX_ROUNDS, valid_sets=[val_set],
            valid_names=["validation"], callbacks=[lightgbm.record_evaluation(history)],
        )  # fmt: skip
        curves.append(history["validation"][f"ndcg@{METRIC_K}"])
    mean = np.mean(np.array(curves), axis=0)
    best = int(np.argmax(mean))
    return best + 1, float(mean[best])


def _importance(booster: Any) -> dict[str, float]:
    gains = booster.feature_importance(importance_type="gain")
    total = float(gains.sum()) or 1.0
    ranked = sorted(zip(FEATURES, gains, strict=True), key=lambda p: (-p[1], p[0]))
    return {name: round(float(gain) / total, 4) for name, gain in ranked if gain > 0}


def orders(data: TrainingData, group: QueryGroup, scores: np.ndarray) -> dict[str, list[str]]:
    """A group's candidates as the ranker, the fused order and BM25 alone order them (ties:
    fused rank)."""
    ids = list(group.product_ids)
    rows = data.features[group.start : group.start + group.size]
    bm25_rank = np.nan_to_num(rows[:, INDEX["bm25_rank"]], nan=math.inf)
    lexical = [i for i in range(len(ids)) if math.isfinite(bm25_rank[i])]
    return {
        "ranker": [ids[i] for i in sorted(range(len(ids)), key=lambda i: (-scores[i], i))],
        "fused": ids,
        "bm25": [ids[i] for i in sorted(lexical, key=lambda i: (bm25_rank[i], i))],
    }


def heldout_card(
    data: TrainingData, families: set[str], predict: Callable[[np.ndarray], np.ndarray]
) -> dict[str, Any]:
    """nDCG@10 on the held-out queries of the ranker, the fused order and BM25 alone, overall
    and per language, with the paired test of the ranker against each."""
    runs: dict[str, dict[str, list[str]]] = {"ranker": {}, "fused": {}, "bm25": {}}
    qrels: dict[str, Mapping[str, int]] = {}
    languages: dict[str, str] = {}
    for group in data.groups:
        if group.family not in families:
            continue
        rows = data.features[group.start : group.start + group.size]
        for name, order in orders(data, group, np.asarray(predict(rows))).items():
            runs[name][group.query_id] = order
        qrels[group.query_id] = group.grades
        languages[group.query_id] = group.language
    evaluations = {
        name: evaluate_run(run, qrels, languages, METRIC_K) for name, run in runs.items()
    }
    return {
        "metric": f"nDCG@{METRIC_K}",
        "test": TEST_NAME,
        **_versus(evaluations),
        "languages": {
            language: _versus({n: _only(e, language) for n, e in evaluations.items()})
            for language in sorted(set(languages.values()))
        },
    }


def _only(evaluation: RunEvaluation, language: str) -> RunEvaluation:
    queries = [q for q in evaluation.queries if q.language == language]
    return RunEvaluation(evaluation.metrics, queries)


def _versus(evaluations: Mapping[str, RunEvaluation]) -> dict[str, Any]:
    metric = f"nDCG@{METRIC_K}"
    fused = compare_metric(evaluations["fused"], evaluations["ranker"], metric)
    bm25 = compare_metric(evaluations["bm25"], evaluations["ranker"], metric)
    return {
        "queries": len(evaluations["ranker"].queries),
        "ranker": round(fused.mean_b, 4),
        "fused": round(fused.mean_a, 4),
        "bm25": round(bm25.mean_a, 4),
        "p_fused": round(fused.p_value, 4),
        "p_bm25": round(bm25.p_value, 4),
    }


def _jsonable(params: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in sorted(params.items())}
