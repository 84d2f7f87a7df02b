"""Training data from the shop's own clicks: ``shelf ranker train --from-events``.

The event log's clicks between ``since`` and ``until`` become graded judgments by COEC with
position-based-model priors (``search.evaluation.clicks``: debiased for position, k-anonymous
per ``SHELF_ANALYTICS_MIN_USERS``); the queries they judge are sent through the search path to
collect each candidate's features (``collect_training_data``), exactly as judged queries are.

A candidate the clicks did not judge (shown too rarely, or never) is grade 0, as an unjudged
product is for judged queries. Leaving those rows out instead (a product never shown was never
seen, not found irrelevant) was tried in ``bench/learning_loop.py`` and generalised worse:
trained only on the shown products, the ranker lifted dense-only candidates it had never seen
labelled, and held-out same-language nDCG@10 fell 0.16 rather than 0.08.
"""

from __future__ import annotations

import datetime as dt
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from search.errors import EvaluationInputError
from search.evaluation.clicks import ClickJudgments, judgments_from_clicks
from search.evaluation.judgments import EvalQuery
from search.evaluation.run import catalog_index
from search.events.log import EventLog, make_event_log
from search.learning.train import (
    MIN_QUERIES,
    TrainedRanker,
    TrainingData,
    collect_training_data,
    train_ranker,
)
from search.pipeline.service import SearchService, make_service
from search.settings import Settings

SOURCE = "clicks"


@dataclass(frozen=True)
class ClickTrainingSet:
    """Judged queries from the log, their judgments (qrels) and how they were made."""

    queries: list[EvalQuery]
    qrels: dict[str, dict[str, int]]
    judgments: ClickJudgments
    since: dt.datetime
    until: dt.datetime

    def summary(self) -> dict[str, object]:
        """The window, the searches read, the queries and pairs judged, and the position
        priors fitted."""
        grades = [0, 0, 0, 0]
        for judgment in self.judgments.judgments:
            grades[judgment.grade] += 1
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "searches": self.judgments.searches,
            "judged_queries": len(self.queries),
            "withheld_queries": self.judgments.withheld,
            "judgments": len(self.judgments.judgments),
            "grades": {str(g): n for g, n in enumerate(grades)},
            "examination": [round(t, 4) for t in self.judgments.examination[:10]],
        }


def click_judged_queries(
    event_log: EventLog,
    since: dt.datetime,
    until: dt.datetime,
    *,
    min_impressions: int = 20,
    min_users: int = 1,
) -> ClickTrainingSet:
    """The queries clicks judge in [since, until) with their judgments; ``EvaluationInputError``
    saying what to change when fewer than ``MIN_QUERIES`` queries have two grades or more."""
    if since >= until:
        raise EvaluationInputError(
            f"--since ({since.isoformat()}) must be before --until ({until.isoformat()})"
        )
    judged = judgments_from_clicks(
        event_log.engine, event_log.tables, since, until,
        min_impressions=min_impressions, min_users=min_users,
    )  # fmt: skip
    qrels: dict[str, dict[str, int]] = {}
    for judgment in judged.judgments:
        qrels.setdefault(judgment.query_id, {})[judgment.product_id] = judgment.grade
    # A query whose products all got one grade teaches a ranking nothing.
    useful = {qid for qid, grades in qrels.items() if len(set(grades.values())) > 1}
    window = f"between {since.isoformat()} and {until.isoformat()}"
    if len(useful) < MIN_QUERIES:
        raise EvaluationInputError(
            f"the event log has {judged.searches} searches {window}, and clicks judge "
            f"{len(useful)} queries with at least two grades (products shown at least "
            f"{min_impressions} times each; {judged.withheld} queries withheld as sent by fewer "
            f"than {min_users} users); a ranker needs at least {MIN_QUERIES}: widen --since/"
            "--until, lower --min-impressions, or train on judgments (--queries, --judgments)"
        )
    queries = [
        EvalQuery(qid, text, locale)
        for qid, (text, locale) in sorted(judged.queries.items())
        if qid in useful
    ]
    return ClickTrainingSet(
        queries, {qid: qrels[qid] for qid in sorted(useful)}, judged, since, until
    )


def click_training_data(
    service: SearchService, clicks: ClickTrainingSet, *, progress: bool = True
) -> TrainingData:
    """Each click-judged query's candidates and features through ``service`` (relevance order,
    no ranker), graded by the clicks (a candidate they did not judge: 0)."""
    return collect_training_data(
        service, clicks.queries, clicks.qrels, progress=progress, source=SOURCE
    )


def train_from_events(
    settings: Settings,
    since: dt.datetime,
    until: dt.datetime,
    *,
    catalog: Path | None = None,
    min_impressions: int = 20,
    holdout_fraction: float = 0.25,
    seed: int = 0,
    progress: bool = True,
) -> tuple[TrainedRanker, ClickTrainingSet]:
    """A ranker trained on the log's click judgments in [since, until) over the configured
    index (or ``catalog`` in a temporary one), the same training as judged queries get; its
    card says which clicks it learned from. Not saved: the caller does (``TrainedRanker.save``)."""
    with closing(make_event_log(settings)) as event_log:
        clicks = click_judged_queries(
            event_log, since, until, min_impressions=min_impressions,
            min_users=settings.analytics_min_users,
        )  # fmt: skip
    embed = settings.recall_mode != "bm25" and settings.embed_model.lower() != "none"
    with catalog_index(catalog, settings, embed=embed and catalog is not None) as (recall, _):
        # The features of today's order: no ranker, no cross-encoder (the score is a feature
        # that is missing wherever the model did not run, as it is on a CPU shop's searches).
        service = make_service(
            settings.model_copy(update={"ranker": "none"}), rerank=False, recall=recall
        )
        try:
            data = click_training_data(service, clicks, progress=progress)
        finally:
            if service.embedder is not None:
                service.embedder.close()
    trained = train_ranker(data, holdout_fraction=holdout_fraction, seed=seed)
    trained.card["sources"] = [f"clicks {since.isoformat()} .. {until.isoformat()}"]
    trained.card["clicks"] = clicks.summary()
    return trained, clicks
