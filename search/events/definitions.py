"""What an experiment is: variants with weights, each overriding part of the search.

Definitions are pydantic models because they arrive at the edges (``POST /experiments``, the
``shelf experiments`` CLI) and are stored as JSON in the event database.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from search.errors import InvalidQuery
from search.query.input_text import FreeText, Identifier

Status = Literal["draft", "running", "paused", "stopped"]
# Which status may follow which: a stopped experiment is final (its report stays).
TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"running", "stopped"}),
    "running": frozenset({"paused", "stopped"}),
    "paused": frozenset({"running", "stopped"}),
    "stopped": frozenset(),
}
_SLUG = r"^[a-z0-9][a-z0-9_.-]{0,63}$"


class SearchOverrides(BaseModel):
    """The part of the search a variant changes; ``None`` keeps the server's setting."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rerank: bool | None = Field(
        None, description="false: recall order only (BM25, or the fused legs)."
    )
    recall_k: int | None = Field(None, ge=1, le=1000, description="Candidates recalled.")
    model: Identifier | None = Field(
        None, min_length=1, max_length=256, description="Reranker model id or local directory."
    )
    blend: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Weight of BM25 in the final score: 0 the model's order, 1 BM25's order.",
    )
    ranker: Identifier | None = Field(
        None,
        min_length=1,
        max_length=1024,
        description="Learned ranker: 'default' (shipped), 'none' (the fused order) or a "
        "directory written by `shelf ranker train`; loaded when the experiment starts.",
    )


class Variant(BaseModel):
    """One arm of an experiment."""

    model_config = ConfigDict(extra="forbid")

    name: Identifier = Field(pattern=_SLUG, description="Lower-case name, e.g. control, rerank.")
    weight: float = Field(1.0, gt=0, le=1000, description="Share of the experiment's traffic.")
    overrides: SearchOverrides = Field(default_factory=SearchOverrides)


class ExperimentSpec(BaseModel):
    """An experiment as a client defines it."""

    model_config = ConfigDict(extra="forbid")

    id: Identifier = Field(pattern=_SLUG, description="Stable id; assignment hashes it.")
    description: FreeText = Field("", max_length=2000)
    traffic: float = Field(
        1.0, gt=0, le=1, description="Share of users in the experiment; the rest get the default."
    )
    variants: list[Variant] = Field(min_length=2, max_length=10)
    control: Identifier | None = Field(
        None, description="The baseline variant (default: the first)."
    )

    @model_validator(mode="after")
    def _check_variants(self) -> Self:
        names = [v.name for v in self.variants]
        doubles = sorted({n for n in names if names.count(n) > 1})
        if doubles:
            raise ValueError(f"variant names must be unique; repeated: {', '.join(doubles)}")
        if self.control is None:
            self.control = names[0]
        elif self.control not in names:
            raise ValueError(f"control {self.control!r} is not one of the variants {names}")
        return self

    def variant(self, name: str) -> Variant:
        """The variant called ``name``."""
        for variant in self.variants:
            if variant.name == name:
                return variant
        raise KeyError(name)

    def shares(self) -> dict[str, float]:
        """Each variant's expected share of the experiment's users (weights normalised)."""
        total = sum(v.weight for v in self.variants)
        return {v.name: v.weight / total for v in self.variants}


class Experiment(ExperimentSpec):
    """A stored experiment: the definition plus its life so far."""

    status: Status = "draft"
    created_at: dt.datetime
    started_at: dt.datetime | None = None
    stopped_at: dt.datetime | None = None

    def moved_to(self, status: Status, now: dt.datetime | None = None) -> Experiment:
        """This experiment in ``status``; ``InvalidQuery`` when that move is not allowed."""
        if status == self.status:
            return self
        if status not in TRANSITIONS[self.status]:
            allowed = ", ".join(sorted(TRANSITIONS[self.status])) or "none (it is final)"
            raise InvalidQuery(
                f"experiment {self.id!r} is {self.status}; it can move to: {allowed}"
            )
        now = now or dt.datetime.now(dt.UTC)
        update: dict[str, object] = {"status": status}
        if status == "running" and self.started_at is None:
            update["started_at"] = now
        if status == "stopped":
            update["stopped_at"] = now
        return self.model_copy(update=update)
