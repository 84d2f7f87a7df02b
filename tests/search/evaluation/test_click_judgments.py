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
from search.events.log import Event, Impression, SqliteEventLog
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
    curve = [round(t, 2) for t in result.examination]
    print(f"Kendall tau vs truth: grades {mean['grade']:.3f}, COEC {mean['coec']:.3f}, "
          f"raw CTR {mean['ctr']:.3f}; examination {curve}")  # fmt: skip
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


def test_the_click_log_counts_impressions_and_clicks_per_position(
    event_log: SqliteEventLog,
) -> None:
    from search.evaluation.clicks import click_counts

    def shown(n: int, query: str, products: tuple[str, ...], hours: float, first: int = 1):
        return Impression(
            f"r{n}",
            query,
            "de-DE",
            "none",
            products,
            first_position=first,
            page=1 if first == 1 else 2,
            ts=T0 + dt.timedelta(hours=hours),
        )

    event_log.record_impressions(
        [
            shown(1, "Kaffee  ", ("a", "b", "c"), 1),
            shown(2, "kaffee", ("b", "a", "c"), 2),
            shown(3, "kaffee", ("d", "e"), 2, first=4),  # page 2: positions 4 and 5
            shown(4, "kaffee", ("a",), 30),  # after --until
        ]
    )
    click = Event  # a click on a product of a search, twice on r1's "a": counted once
    event_log.record_events(
        [click("x1", "click", "r1", "a", 1, ts=T0), click("x2", "click", "r1", "a", 1, ts=T0),
         click("x3", "purchase", "r2", "a", 2, ts=T0), click("x4", "click", "r3", "e", 5, ts=T0),
         click("x5", "click", "r4", "a", 1, ts=T0)]
    )  # fmt: skip
    counts, searches = click_counts(
        event_log.engine, event_log.tables, T0, T0 + dt.timedelta(days=1), max_position=4
    )
    key = ("kaffee", "de-DE")
    assert searches == 3
    assert dict(counts) == {
        (key, "a", 1): [1, 1], (key, "b", 2): [1, 0], (key, "c", 3): [2, 0],
        (key, "b", 1): [1, 0], (key, "a", 2): [1, 0], (key, "d", 4): [1, 0],
    }  # fmt: skip


def test_shelf_judgments_from_clicks_writes_qrels_and_queries(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from search.cli.main import main
    from search.events.log import make_event_log
    from search.settings import get_settings

    _, searches = position_biased_traffic(2, 4, 30, seed=1)
    log = make_event_log(get_settings())
    _store(log, searches, T0)  # type: ignore[arg-type]
    log.close()
    out = tmp_path / "qrels.txt"
    argv = ["judgments", "from-clicks", "--since", "2026-11-01", "--until", "2026-11-02",
            "--min-impressions", "30", "--out", str(out), "--json"]  # fmt: skip
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["searches"], summary["queries"], summary["judgments"]) == (60, 2, 8)
    assert len(read_judgments(out)) == 2
    assert len(read_queries(Path(summary["queries_file"]))) == 2


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--since", "2026-11-02", "--until", "2026-11-01"], "--since"),
        (["--since", "yesterday"], "--since"),  # argparse refuses it
        (["--since", "2026-11-01", "--min-impressions", "0"], "--min-impressions"),
        (["--since", "2026-11-01", "--max-position", "0"], "--max-position"),
        (["--since", "2026-11-01", "--grades", "0.3,0.2,0.1"], "--grades"),  # argparse
    ],
)
def test_bad_from_clicks_input_exits_2_naming_the_option(
    flags: list[str], named: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from search.cli.main import main

    argv = ["judgments", "from-clicks", *flags, "--out", str(tmp_path / "q.txt")]
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own refusals
        code = int(exit_.code or 0)
    assert code == 2
    assert named in capsys.readouterr().err
    assert not (tmp_path / "q.txt").exists()


def _store_users(log: SqliteEventLog, users_per_query: dict[str, int]) -> None:
    impressions, events = [], []
    for text, users in users_per_query.items():
        for n in range(12):  # 12 searches each, by `users` distinct users
            request_id = f"{text[:8]}-{n}"
            impressions.append(Impression(request_id, text, "en-US", "none", ["p1", "p2"],
                                          user_id=f"{text[:8]}-u{n % users}",
                                          ts=T0 + dt.timedelta(minutes=n)))  # fmt: skip
            for position, product in enumerate(["p1", "p2"][: 1 + n % 2], start=1):
                if n % (position + 1) == 0:
                    events.append(Event(f"{request_id}.{product}", "click", request_id,
                                        product, position, ts=impressions[-1].ts))  # fmt: skip
    log.record_impressions(impressions)
    log.record_events(events)


# min_users 3: one member per kind of query the queries file must not show, and those it shows.
K_ANONYMITY = [("john.doe@example.com order 12345", 1, False), ("my own words", 2, False),
               ("Wireless Earbuds", 3, True), ("usb cable", 12, True)]  # fmt: skip


def test_queries_fewer_than_min_users_sent_are_left_out(event_log: SqliteEventLog) -> None:
    _store_users(event_log, {text: users for text, users, _ in K_ANONYMITY})
    day = (T0, T0 + dt.timedelta(days=1))
    result = judgments_from_clicks(event_log.engine, event_log.tables, *day, min_impressions=1,
                                   min_users=3)  # fmt: skip
    written = "".join(queries_lines(result)) + "".join(qrels_lines(result))
    for text, users, shown in K_ANONYMITY:
        qid = query_id((text.casefold(), "en-US"))
        assert (qid in written) is shown and (text.casefold() in written) is shown, (text, users)
    assert result.withheld == 2 and len(result.queries) == 2
    everyone = judgments_from_clicks(event_log.engine, event_log.tables, *day, min_impressions=1)
    assert len(everyone.queries) == 4 and everyone.withheld == 0
