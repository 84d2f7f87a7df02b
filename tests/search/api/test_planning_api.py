"""POST /experiments/plan: a plan from a given baseline, and every kind of bad input refused with
a 422 naming the parameter."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.search.api.conftest import auth

GIVEN = {"metric": "ctr", "mde": 0.1, "baseline": 0.1, "units_per_day": 1000}


def test_a_plan_from_a_given_baseline_gives_users_per_arm_and_days(client: TestClient) -> None:
    response = client.post("/experiments/plan", json=GIVEN, headers=auth())
    assert response.status_code == 200, response.text
    plan = response.json()
    # Fleiss's two-proportion sample size for 10% vs 11% (alpha 0.05, power 0.8): 14,751.
    assert plan["units_per_arm"]["control"] == pytest.approx(14751, rel=0.005)
    assert plan["days"] == pytest.approx(plan["units_total"] / 1000, rel=1e-3)
    assert plan["baseline"]["source"] == "given"


def test_the_plan_needs_the_api_key(client: TestClient) -> None:
    assert client.post("/experiments/plan", json=GIVEN).status_code == 401


BAD: list[tuple[str, dict[str, Any]]] = [
    ("metric", {"metric": "bounce_rate"}),
    ("metric", {"metric": None}),
    ("baseline", {"baseline": 0}),
    ("baseline", {"baseline": -0.1}),
    ("baseline", {"baseline": 1.0}),
    ("baseline", {"baseline": 1.5}),
    ("baseline", {"baseline": 1e12}),
    ("baseline_sd", {"metric": "revenue_per_search", "baseline": 2.5}),
    ("baseline_sd", {"metric": "revenue_per_search", "baseline": 2.5, "baseline_sd": -1}),
    ("mde", {"mde": 0}),
    ("mde", {"mde": -0.05}),
    ("mde", {"mde": 50}),
    ("mde", {"mde": 9.5}),  # 0.1 * 10.5 > 1: no rate gets there
    ("mde", {"mde": None}),  # neither mde nor days
    ("days", {"days": 14}),  # both mde and days
    ("days", {"mde": None, "days": 0}),
    ("days", {"mde": None, "days": -3}),
    ("days", {"mde": None, "days": 0.001, "units_per_day": 1}),  # nothing detectable
    ("weights", {"weights": [1]}),
    ("weights", {"weights": [1, -1]}),
    ("weights", {"weights": [1, 0]}),
    ("weights", {"weights": [1, 1e6]}),
    ("traffic", {"traffic": 0}),
    ("traffic", {"traffic": 1.5}),
    ("alpha", {"alpha": 0}),
    ("alpha", {"alpha": 0.7}),
    ("power", {"power": 1}),
    ("power", {"power": 0.2}),
    ("units_per_day", {"units_per_day": 0}),
    ("lookback_days", {"lookback_days": 0}),
    ("searches_per_unit", {"searches_per_unit": 0.5}),
    ("colour", {"colour": "red"}),  # unknown fields are refused too
    # Inputs that overflowed (500) or gave an absurd plan (8.7e302 days).
    ("traffic", {"traffic": 5e-324}),
    ("traffic", {"traffic": 1e-300}),
    ("traffic", {"traffic": 1e-7}),
    ("traffic", {"traffic": 1e-6, "units_per_day": 1}),  # 1.5e10 days
    ("units_per_day", {"units_per_day": 5e-324}),  # users/day in it underflow to 0
    ("units_per_day", {"units_per_day": 1e-3}),
    ("weights", {"weights": [1000, 5e-324]}),  # the treatment's share underflows to 0
    ("weights", {"weights": [1, 1e308]}),
    ("weights", {"weights": [1, 1e-4]}),
    ("baseline", {"baseline": 5e-324}),  # delta underflows: more users than any plan
    ("baseline_sd", {"metric": "revenue_per_search", "baseline": 1e9, "baseline_sd": 5e-324}),
    ("alpha", {"alpha": 5e-324}),
    ("alpha", {"alpha": 0.5}),
    ("power", {"power": 0.9999999}),
    ("days", {"mde": None, "days": 1e308}),
    ("units_per_day", {"units_per_day": 1e308}),
    ("searches_per_unit", {"searches_per_unit": 1e308}),
    # The body is strict: numbers must be JSON numbers, integers integers.
    ("mde", {"mde": "0.1"}),
    ("traffic", {"traffic": "1"}),
    ("weights", {"weights": ["1", "1"]}),
    ("lookback_days", {"lookback_days": 14.0}),
    ("baseline", {"baseline": True}),
]


@pytest.mark.parametrize(
    "change",
    [
        {"traffic": 1e-6, "units_per_day": 1e10},
        {"weights": [1000, 1e-3], "units_per_day": 1e10},
        {"alpha": 1e-6, "power": 0.999999},
        {"mde": 1e-6, "baseline": 0.5, "units_per_day": 1e10},
        {"weights": [1, 1]},
    ],  # fmt: skip
)
def test_the_edges_of_the_plannable_give_a_finite_plan(
    client: TestClient, change: dict[str, Any]
) -> None:
    response = client.post("/experiments/plan", json=GIVEN | change, headers=auth())
    assert response.status_code in (200, 422), response.text
    if response.status_code == 200:
        plan = response.json()
        assert 0 < plan["days"] <= 36500 and plan["units_total"] <= 1e12


@pytest.mark.parametrize(("parameter", "change"), BAD, ids=[f"{p}:{c}" for p, c in BAD])
def test_bad_input_is_refused_naming_the_parameter(
    client: TestClient, parameter: str, change: dict[str, Any]
) -> None:
    body = {key: value for key, value in (GIVEN | change).items() if value is not None}
    response = client.post("/experiments/plan", json=body, headers=auth())
    assert response.status_code == 422, response.text
    assert parameter in response.json()["error"]["message"]
