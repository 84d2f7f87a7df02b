"""``/experiments``: define, start, pause and stop A/B experiments, and read their reports.

Every route needs the API key: definitions and reports (revenue included) are business data.
A variant model is loaded when its experiment is created running or started, so a model that
cannot load refuses the change (422) rather than degrading shoppers' searches later.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from catalog.product import describe_validation_error
from search.api.components import Components, components_of
from search.api.models import ERROR_RESPONSES
from search.api.security import require_api_key
from search.errors import InvalidQuery
from search.events.definitions import Experiment, ExperimentSpec, Status, Variant
from search.experiments.report import experiment_report
from search.query.input_text import FreeText, Identifier

router = APIRouter(
    tags=["experiments"],
    dependencies=[Depends(require_api_key)],
    responses={**ERROR_RESPONSES, 404: ERROR_RESPONSES[422] | {"description": "No such id"}},
)


class ExperimentIn(ExperimentSpec):
    """A new experiment: a draft, or running at once."""

    status: Literal["draft", "running"] = "draft"


class ExperimentPatch(BaseModel):
    """What may change: the status at any time, the description and the traffic share while
    it has not stopped; variants and control only while it is a draft (its data would mix)."""

    model_config = ConfigDict(extra="forbid")

    status: Status | None = None
    description: FreeText | None = Field(None, max_length=2000)
    traffic: float | None = Field(None, gt=0, le=1)
    variants: list[Variant] | None = Field(None, min_length=2, max_length=10)
    control: Identifier | None = None


class ExperimentsOut(BaseModel):
    """Experiments, oldest first."""

    experiments: list[Experiment]


@router.post("/experiments", response_model=Experiment, status_code=201)
def create_experiment(
    body: ExperimentIn, components: Annotated[Components, Depends(components_of)]
) -> Experiment:
    """Store a new experiment (``status: running`` starts it at once); 409 if the id is taken."""
    now = dt.datetime.now(dt.UTC)
    spec = body.model_dump(exclude={"status"})
    experiment = Experiment(**spec, created_at=now).moved_to(body.status, now)
    if experiment.status == "running":
        components.variants.prepare(experiment)
    components.event_log.create_experiment(experiment)
    components.experiments.refresh()
    return experiment


@router.get("/experiments", response_model=ExperimentsOut)
def list_experiments(
    components: Annotated[Components, Depends(components_of)],
    status: Annotated[Status | None, Query(description="Only those in this status.")] = None,
) -> ExperimentsOut:
    """Every experiment, oldest first."""
    return ExperimentsOut(experiments=components.event_log.experiments(status))


@router.get("/experiments/{experiment_id}", response_model=Experiment)
def get_experiment(
    experiment_id: str, components: Annotated[Components, Depends(components_of)]
) -> Experiment:
    """One experiment's definition and status."""
    return components.event_log.experiment(experiment_id)


@router.patch("/experiments/{experiment_id}", response_model=Experiment)
def update_experiment(
    experiment_id: str,
    body: ExperimentPatch,
    components: Annotated[Components, Depends(components_of)],
) -> Experiment:
    """Start, pause or stop an experiment, or edit what its status allows."""
    current = components.event_log.experiment(experiment_id)
    changes = body.model_dump(exclude_unset=True, exclude={"status"})
    if current.status == "stopped" and changes:
        raise InvalidQuery(f"experiment {experiment_id!r} has stopped: it can no longer change")
    redefined = {"variants", "control"} & changes.keys()
    if redefined and current.status != "draft":
        raise InvalidQuery(
            f"experiment {experiment_id!r} is {current.status}: its {', '.join(sorted(redefined))} "
            "can only change while it is a draft (create a new experiment instead)"
        )
    if "variants" in changes and "control" not in changes:
        changes["control"] = None  # the first of the new variants, unless named
    merged: dict[str, Any] = current.model_dump() | changes
    try:
        updated = Experiment.model_validate(merged)
    except ValidationError as exc:
        raise InvalidQuery(describe_validation_error(exc)) from None
    if body.status is not None:
        updated = updated.moved_to(body.status)
    if updated.status == "running":
        components.variants.prepare(updated)
    components.event_log.update_experiment(updated)
    components.experiments.refresh()
    return updated


@router.get("/experiments/{experiment_id}/report")
def get_report(
    experiment_id: str, components: Annotated[Components, Depends(components_of)]
) -> dict[str, Any]:
    """Metrics per variant (overall, per locale, per day) with 95% intervals, lift over control,
    p-values and the sample-ratio-mismatch check."""
    experiment = components.event_log.experiment(experiment_id)
    components.impressions.flush()  # searches answered so far are in the report
    return experiment_report(components.event_log, experiment)
