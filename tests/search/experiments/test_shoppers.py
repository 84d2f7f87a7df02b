"""Relevance-aware simulated shoppers: clicks follow true relevance x examination, and the
driver logs their searches through the real API at their simulated times."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from catalog.samples import sample_judgments, sample_queries
from search.api.app import create_app
from search.evaluation.clicks import judgments_from_clicks
from search.events.log import make_event_log
from search.experiments.shoppers import (
    GRADE_ATTRACTION,
    RelevanceTruth,
    ShopperQuery,
    plan_shoppers,
    shopper_events,
    truth_from_judgments,
)
from search.experiments.shopping import SimulatedClock, shop
from search.experiments.traffic import examination
from search.settings import Settings
from tests.conftest import API_KEY

START = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)
QUERY = ShopperQuery("q1", "wooden chair", "en-US")


def test_clicks_follow_the_true_grade_times_the_examination_of_the_position() -> None:
    """Every grade shown at every position of four, over 6,000 seeded searches: each cell's
    click rate is examination(position) x attraction(grade) within sampling error."""
    truth = RelevanceTruth({"q1": {"g0": 0, "g1": 1, "g2": 2, "g3": 3}})
    shoppers = plan_shoppers([QUERY], 6000, 1, start=START, days=14, seed=3)
    shown_counts: dict[tuple[int, int], list[int]] = {}
    for n, shopper in enumerate(shoppers):
        search = shopper.searches[0]
        rotation = n % 4  # each grade at each position equally often
        shown = [f"g{(rotation + k) % 4}" for k in range(4)]
        clicked = {e.position for e in shopper_events(truth, search, shown) if e.type == "click"}
        for position, product in enumerate(shown, start=1):
            cell = shown_counts.setdefault((position, int(product[1])), [0, 0])
            cell[0] += 1
            cell[1] += position in clicked
    for (position, grade), (shown_n, clicks) in shown_counts.items():
        expected = examination(position) * GRADE_ATTRACTION[grade]
        error = 4 * (expected * (1 - expected) / shown_n) ** 0.5 + 0.005
        assert abs(clicks / shown_n - expected) <= error, (position, grade, clicks / shown_n)


def test_the_same_seed_plans_the_same_shoppers_within_the_simulated_weeks() -> None:
    first = plan_shoppers([QUERY], 200, 3, start=START, days=14, seed=5)
    assert first == plan_shoppers([QUERY], 200, 3, start=START, days=14, seed=5)
    assert first != plan_shoppers([QUERY], 200, 3, start=START, days=14, seed=6)
    times = [s.at for shopper in first for s in shopper.searches]
    assert min(times) >= START and max(times) < START + dt.timedelta(days=14, hours=1)
    assert max(times) - min(times) > dt.timedelta(days=10)  # spread over the weeks


@pytest.mark.slow
def test_shoppers_searches_and_clicks_are_logged_at_their_simulated_times(
    api_settings: Settings, tmp_path: Path
) -> None:
    """Through the real API (SQLite): impressions stamped by the simulated clock, clicks
    posted with their times, and click judgments read back from that window."""
    settings = api_settings.model_copy(
        update={
            "events_url": f"sqlite:///{tmp_path / 'events.db'}",
            "events_table_prefix": f"shop{uuid.uuid4().hex[:6]}_",
            "recall_mode": "bm25",
        }
    )
    queries = [ShopperQuery(q["query_id"], q["text"], q["locale"])
               for q in sample_queries() if q["locale"] == "en-US"][:3]  # fmt: skip
    truth = truth_from_judgments(sample_judgments())
    shoppers = plan_shoppers(queries, 120, 1, start=START, days=14, seed=1)
    clock = SimulatedClock(START)
    with TestClient(create_app(settings, clock=clock)) as client:
        log = shop(client, API_KEY, shoppers, truth, clock, params={"rerank": "false"})
    assert log.searches == 120 and log.clicks > 0 and log.stored >= log.clicks
    assert log.rejected == 0
    event_log = make_event_log(settings)
    try:
        judged = judgments_from_clicks(
            event_log.engine, event_log.tables, START, START + dt.timedelta(days=15),
            min_impressions=5,
        )  # fmt: skip
        none_now = judgments_from_clicks(
            event_log.engine, event_log.tables, START + dt.timedelta(days=15),
            dt.datetime.now(dt.UTC) + dt.timedelta(days=1),
        )  # fmt: skip
    finally:
        event_log.drop_tables()
        event_log.close()
    assert judged.searches == 120 and len(judged.queries) == 3
    assert none_now.searches == 0  # nothing was stamped with the wall clock
