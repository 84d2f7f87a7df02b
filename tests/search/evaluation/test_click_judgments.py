"""Judgments from clicks (COEC with position-based-model priors) against the simulator's truth,
and the streamed click log on SQLite and the real PostgreSQL.

The truth check is seeded (``SEED``): 40 queries x 10 products, 500 searches each, a ranker
that misranks (a fixed per-product error, sd 0.4, plus per-search noise, sd 0.15) and shoppers
who examine position k with probability 1/k. Per query, Kendall's tau-b between the derived
grades and the true attractiveness, averaged over queries, must be >= 0.6; the continuous COEC
must beat raw CTR (clicks / impressions, which rewards whatever the ranker put on top) by at
least ``MARGIN``. The per-query taus' standard error is about 0.02 here, so the margin is some
five standard errors of the difference below the measured gap.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from search.evaluation.clicks import (
    judgments_from_clicks,
    qrels_lines,
    queries_lines,
    query_id,
)
from search.evaluation.judgments import read_judgments, read_queries
from search.experiments.event_log import Event, Impression, SqliteEventLog
from search.experiments.traffic import position_biased_traffic

SEED = 7
MIN_TAU = 0.6
MARGIN = 0.1
T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def kendall_tau_b(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall's tau-b (ties in either ranking corrected; Kendall 1945)."""
    concordant = discordant = ties_x = ties_y = 0
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            dx, dy = x[i] - x[j], y[i] - y[j]
            if dx == 0 and dy == 0:
                continue
            if dx == 0:
                ties_x += 1
            elif dy == 0:
                ties_y += 1
            elif (dx > 0) == (dy > 0):
                concordant += 1
            else:
                discordant += 1
    denominator = math.sqrt((concordant + discordant + ties_x) * (concordant + discordant + ties_y))
    return (concordant - discordant) / denominator if denominator else 0.0


def _store(log: SqliteEventLog, searches: Sequence, start: dt.datetime) -> None:
    impressions, events = [], []
    for n, search in enumerate(searches):
        request_id = f"r{n:06d}"
        ts = start + dt.timedelta(seconds=n)
        impressions.append(Impression(request_id, search.query, search.locale, "none",
                                      search.product_ids, user_id=f"u{n % 97}", ts=ts))  # fmt: skip
        for product in search.clicked:
            position = search.product_ids.index(product) + 1
            events.append(Event(f"{request_id}.{product}", "click", request_id, product,
                                position, ts=ts))  # fmt: skip
    log.record_impressions(impressions)
    log.record_events(events)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict, SqliteEventLog]]:
    """The simulator's position-biased traffic, stored in a SQLite event log."""
    truth, searches = position_biased_traffic(40, 10, 500, seed=SEED)
    path = tmp_path_factory.mktemp("clicks") / "events.db"
    log = SqliteEventLog(f"sqlite:///{path}")
    _store(log, searches, T0)
    yield truth, log
    log.close()


def test_grades_from_clicks_rank_products_in_the_true_order_where_raw_ctr_does_worse(
    simulated: tuple[dict, SqliteEventLog],
) -> None:
    truth, log = simulated
    result = judgments_from_clicks(log.engine, log.tables, T0, T0 + dt.timedelta(days=1))
    assert result.searches == 40 * 500 and len(result.judgments) == 400
    by_query: dict[str, list] = {}
    for judgment in result.judgments:
        by_query.setdefault(judgment.query_id, []).append(judgment)
    taus: dict[str, list[float]] = {"grade": [], "coec": [], "ctr": []}
    for qid, judged in by_query.items():
        text = result.queries[qid][0]
        true = [truth[(text, j.product_id)] for j in judged]
        taus["grade"].append(kendall_tau_b([j.grade for j in judged], true))
        taus["coec"].append(kendall_tau_b([j.coec for j in judged], true))
        taus["ctr"].append(kendall_tau_b([j.clicks / j.impressions for j in judged], true))
    mean = {name: sum(values) / len(values) for name, values in taus.items()}
    print(f"Kendall tau vs truth: grades {mean['grade']:.3f}, COEC {mean['coec']:.3f}, "
          f"raw CTR {mean['ctr']:.3f}; examination {[round(t, 2) for t in result.examination]}")  # fmt: skip
    assert mean["grade"] >= MIN_TAU
    assert mean["coec"] - mean["ctr"] >= MARGIN
    # The fitted examination curve is the simulator's 1/k, within 0.05 at every position.
    assert result.examination == pytest.approx([1 / k for k in range(1, 11)], abs=0.05)


def test_the_qrels_and_queries_written_are_read_by_shelf_eval(
    simulated: tuple[dict, SqliteEventLog], tmp_path: Path
) -> None:
    _, log = simulated
    result = judgments_from_clicks(log.engine, log.tables, T0, T0 + dt.timedelta(days=1))
    (tmp_path / "qrels.txt").write_text("".join(qrels_lines(result)))
    (tmp_path / "queries.tsv").write_text("".join(queries_lines(result)))
    qrels = read_judgments(tmp_path / "qrels.txt")
    queries = read_queries(tmp_path / "queries.tsv")
    assert sum(len(v) for v in qrels.values()) == len(result.judgments)
    assert {q.query_id for q in queries} == set(qrels)
    first = queries[0]
    assert first.query_id == query_id((first.text, "en-US")) and first.locale == "en-US"
