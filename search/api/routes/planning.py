"""``POST /experiments/plan``: users per arm and days to detect an effect, or the effect a
number of days can detect (``search.experiments.planning``). It needs the API key, like every
experiments route: the baseline it reads from the log is business data."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from search.api.components import Components, components_of
from search.api.models import ERROR_RESPONSES
from search.api.security import require_api_key
from search.experiments.baseline import plan_experiment
from search.experiments.planning import PlanRequest

router = APIRouter(
    tags=["experiments"], dependencies=[Depends(require_api_key)], responses=ERROR_RESPONSES
)


@router.post("/experiments/plan")
def plan_an_experiment(
    body: PlanRequest, components: Annotated[Components, Depends(components_of)]
) -> dict[str, Any]:
    """Sample size per arm (users) and days for ``mde``, or the MDE reachable in ``days``, with
    the report's per-user (delta-method) variance; what is not given is read from the log's
    last ``lookback_days`` days. 422 naming the parameter when it cannot be planned."""
    event_log = components.event_log
    return plan_experiment(body, event_log.engine, event_log.tables)
