"""Relevance-aware simulated shoppers through the real API: every search is ``GET /search``
(so Shelf's own pipeline logs the impression), every click, add-to-cart and purchase is posted
to ``POST /events``, each at its simulated time.

The API stamps an impression with its clock (``create_app(settings, clock=...)``): the driver
sets a ``SimulatedClock`` to each search's time before sending it, one search at a time in time
order, so two simulated weeks land in the log as two weeks. Events carry their own ``ts``.
With an experiment (``ab_test``), the shoppers are split by the server's own assignment and the
report is read from ``GET /experiments/{id}/report``.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from search.experiments.shoppers import (
    SHOWN,
    RelevanceTruth,
    Shopper,
    searches_in_time_order,
    shopper_events,
)
from search.experiments.simulate import (
    HttpClient,
    answer_json,
    note,
    progress_bar,
    search_until_served,
)


class SimulatedClock:
    """The time the simulation is at: set before each search, read by the API."""

    def __init__(self, start: dt.datetime) -> None:
        self._now = start
        self._lock = threading.Lock()

    def set(self, now: dt.datetime) -> None:
        """Move the clock to ``now``."""
        with self._lock:
            self._now = now

    def __call__(self) -> dt.datetime:
        with self._lock:
            return self._now


@dataclass
class ShoppingLog:
    """What the shoppers did: searches sent, searches with a click, clicks, purchases and the
    events the server stored, overall and by variant (``[searches, clicked searches]``)."""

    searches: int = 0
    clicked_searches: int = 0
    clicks: int = 0
    purchases: int = 0
    stored: int = 0
    rejected: int = 0
    outside: int = 0  # searches another experiment (or none) took
    seconds: float = 0.0
    by_variant: dict[str, list[int]] = field(default_factory=dict)

    @property
    def ctr(self) -> float:
        """Share of searches with a click."""
        return self.clicked_searches / self.searches if self.searches else 0.0


def shop(
    client: HttpClient,
    api_key: str,
    shoppers: Sequence[Shopper],
    truth: RelevanceTruth,
    clock: SimulatedClock,
    *,
    params: Mapping[str, Any] | None = None,
    experiment_id: str | None = None,
    batch: int = 500,
) -> ShoppingLog:
    """Send every search of ``shoppers`` in time order (``params`` added to each, e.g.
    ``rerank=false``), click by ``truth`` and post the events; with ``experiment_id``, only the
    searches that experiment served count."""
    headers = {"X-API-Key": api_key}
    log = ShoppingLog()
    events: list[dict[str, Any]] = []
    ordered = searches_in_time_order(shoppers)
    started = time.perf_counter()
    with progress_bar(len(ordered), "searches") as bar:
        for shopper, search in ordered:
            clock.set(search.at)
            answer = answer_json(
                search_until_served(
                    client,
                    {
                        "q": search.query.text,
                        "lang": search.query.locale,
                        "k": SHOWN,
                        "user_id": shopper.user_id,
                        **(params or {}),
                    },
                )  # fmt: skip
            )
            bar.update(1)
            if experiment_id is not None and answer["experiment"] != experiment_id:
                log.outside += 1
                continue
            items = answer["items"]
            done = shopper_events(truth, search, [item["product_id"] for item in items])
            clicked = sum(e.type == "click" for e in done)
            log.searches += 1
            log.clicked_searches += clicked > 0
            log.clicks += clicked
            log.purchases += sum(e.type == "purchase" for e in done)
            tally = log.by_variant.setdefault(answer["variant"], [0, 0])
            tally[0] += 1
            tally[1] += clicked > 0
            for n, event in enumerate(done):
                item = items[event.position - 1]
                events.append(
                    {
                        "event_id": f"{shopper.user_id}.{search.index}.{n}.{answer['request_id']}",
                        "type": event.type,
                        "request_id": answer["request_id"],
                        "product_id": item["product_id"],
                        "position": item["position"],
                        "user_id": shopper.user_id,
                        "value": event.value,
                        "currency": "USD" if event.value is not None else None,
                        "ts": (search.at + dt.timedelta(seconds=5 * (n + 1))).isoformat(),
                    }
                )
    log.seconds = round(time.perf_counter() - started, 1)
    note(f"{log.searches} searches in {log.seconds} s; posting {len(events)} events")
    for first in range(0, len(events), batch):
        answer = answer_json(
            client.post("/events", json=events[first : first + batch], headers=headers)
        )
        log.stored += answer["stored"]
        log.rejected += answer["rejected_count"]
    return log


def ab_test(
    client: HttpClient,
    api_key: str,
    spec: Mapping[str, Any],
    shoppers: Sequence[Shopper],
    truth: RelevanceTruth,
    clock: SimulatedClock,
    *,
    params: Mapping[str, Any] | None = None,
) -> tuple[ShoppingLog, dict[str, Any]]:
    """Create the experiment ``spec`` running, send ``shoppers`` through it, stop it and return
    what they did and the server's report of it."""
    headers = {"X-API-Key": api_key}
    experiment = answer_json(
        client.post("/experiments", json={**spec, "status": "running"}, headers=headers)
    )
    log = shop(client, api_key, shoppers, truth, clock, params=params,
               experiment_id=experiment["id"])  # fmt: skip
    answer_json(
        client.patch(
            f"/experiments/{experiment['id']}", json={"status": "stopped"}, headers=headers
        )  # fmt: skip
    )
    report = answer_json(client.get(f"/experiments/{experiment['id']}/report", headers=headers))
    return log, report


def metric_lift(report: Mapping[str, Any], metric: str = "ctr") -> dict[str, Any]:
    """The treatment's (the first variant not the control) ``metric`` from a report: control
    and treatment values, relative lift, its p-value and significance."""
    variants = report["overall"]["variants"]
    control = next(v for v in variants if v["is_control"])
    treatment = next(v for v in variants if not v["is_control"])
    found = treatment["metrics"][metric]
    return {
        "control": control["metrics"][metric]["value"],
        "treatment": found["value"],
        "lift": found["lift"],
        "p_value": found["p_value"],
        "significant": found["significant"],
        "searches": {v["variant"]: v["impressions"] for v in variants},
    }
