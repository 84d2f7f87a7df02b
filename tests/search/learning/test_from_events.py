"""``shelf ranker train --from-events``: click judgments from a real SQLite event log, and the
errors when the window holds too little to train on."""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from search.cli.main import build_parser
from search.cli.ranker_events import train_from_events_command
from search.errors import EvaluationInputError, InvalidQuery
from search.events.log import Event, Impression, SqliteEventLog
from search.experiments.traffic import position_biased_traffic
from search.learning.from_events import click_judged_queries
from search.settings import Settings

T0 = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)
WEEK = dt.timedelta(days=7)


def _log_traffic(log: SqliteEventLog, n_queries: int, searches_per_query: int) -> None:
    """Position-biased traffic (``search.experiments.traffic``) stored through the event log,
    one search a minute from ``T0``."""
    _, searches = position_biased_traffic(n_queries, 8, searches_per_query, seed=1)
    impressions, events = [], []
    for n, search in enumerate(searches):
        request_id, ts = f"r{n:06d}", T0 + dt.timedelta(minutes=n)
        impressions.append(Impression(request_id, search.query, "en", "default",
                                      search.product_ids, user_id=f"u{n % 31}", ts=ts))  # fmt: skip
        for product in search.clicked:
            position = search.product_ids.index(product) + 1
            events.append(Event(f"{request_id}.{product}", "click", request_id, product,
                                position, ts=ts))  # fmt: skip
    log.record_impressions(impressions)
    log.record_events(events)


@pytest.fixture
def event_log(tmp_path: Path) -> Iterator[SqliteEventLog]:
    log = SqliteEventLog(f"sqlite:///{tmp_path / 'events.db'}")
    yield log
    log.close()


def test_a_window_with_too_few_judged_queries_is_refused_saying_what_to_change(
    event_log: SqliteEventLog,
) -> None:
    _log_traffic(event_log, n_queries=4, searches_per_query=40)
    with pytest.raises(EvaluationInputError) as caught:
        click_judged_queries(event_log, T0, T0 + WEEK)
    message = str(caught.value)
    assert "160 searches" in message and "4 queries" in message and "at least 10" in message
    assert "--since/--until" in message and "--min-impressions" in message


def test_a_window_before_the_traffic_has_no_search_and_says_so(
    event_log: SqliteEventLog,
) -> None:
    _log_traffic(event_log, n_queries=12, searches_per_query=40)
    with pytest.raises(EvaluationInputError, match=r"has 0 searches between 2026-10-"):
        click_judged_queries(event_log, T0 - WEEK, T0)


def test_enough_traffic_gives_each_judged_query_and_its_graded_products(
    event_log: SqliteEventLog,
) -> None:
    _log_traffic(event_log, n_queries=12, searches_per_query=40)
    clicks = click_judged_queries(event_log, T0, T0 + WEEK)
    assert len(clicks.queries) == 12 and clicks.judgments.searches == 480
    assert all(len(set(grades.values())) > 1 for grades in clicks.qrels.values())
    assert clicks.summary()["judgments"] == 12 * 8


def _args(*argv: str) -> argparse.Namespace:
    """``shelf ranker train ARGV --out unused`` as the real ``shelf`` parser reads it."""
    return build_parser().parse_args(["ranker", "train", *argv, "--out", "unused"])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--from-events", "--since", "2026-11-02", "--queries", "q.tsv"], "without --queries"),
        (["--from-events"], "needs --since"),
        (["--from-events", "--since", "2026-11-02", "--min-impressions", "0"], "at least 1"),
        (["--from-events", "--since", "2026-11-09", "--until", "2026-11-02"], "must be before"),
    ],
)
def test_from_events_options_that_do_not_go_together_are_refused(
    argv: list[str], message: str, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, events_url=f"sqlite:///{tmp_path / 'events.db'}")
    with pytest.raises((InvalidQuery, EvaluationInputError), match=message):
        train_from_events_command(_args(*argv), settings)


def test_shelf_ranker_train_from_events_reaches_the_click_judgments_and_says_what_is_missing(
    tmp_path: Path, event_log: SqliteEventLog, capsys: pytest.CaptureFixture[str]
) -> None:
    from search.cli.main import main

    _log_traffic(event_log, n_queries=4, searches_per_query=40)
    event_log.close()
    url = f"sqlite:///{tmp_path / 'events.db'}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SHELF_EVENTS_URL", url)
        code = main(["ranker", "train", "--from-events", "--since", "2026-11-02",
                     "--out", str(tmp_path / "ranker")])  # fmt: skip
    assert code != 0 and not (tmp_path / "ranker").exists()
    assert "4 queries" in capsys.readouterr().err
