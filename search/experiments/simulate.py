"""``shelf experiments simulate``: replay simulated shoppers with a known true CTR per variant
through the real API, then set the report's estimates beside the truth.

The driver creates a running experiment (the first ``--ctr`` variant is the control and searches
in BM25 order, the others rerank), sends every simulated search as ``GET /search`` with its
user id (a few users at a time, from threads), turns what each answer shows into clicks and
purchases (``search.experiments.traffic``), posts them in batches to ``POST /events``, stops the
experiment and reads ``GET /experiments/{id}/report``. It reports; it does not judge.

Traffic size: clicks are independent per search here, so a variant's CTR has standard error
sqrt(p(1-p)/n). For 10% vs 12% the difference's standard error is sqrt(0.1956/n) with n searches
per arm; detecting it at alpha 0.05 (two-sided) with power 0.97 needs 0.02/SE >= 1.96 + 1.88,
i.e. n >= 7,200 per arm: the defaults (3,600 users x 4 searches on average, 50/50) give that.

Without ``--url`` the API runs in this process: the caller hands in the app factory
(``search.api.app.create_app``, passed down by ``search.cli.main``), because experiments sit below
the API and import nothing of it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tqdm import tqdm

from search.errors import ShelfError
from search.events.definitions import Experiment
from search.experiments.traffic import SimulatedUser, Truth, is_lost, outcome

METRICS = ("ctr", "conversion_rate")
# An httpx.Client on a server's URL, or fastapi's TestClient on the app (an httpx2 client).
HttpClient = Any


def experiment_spec(experiment_id: str, names: list[str], *, recall_k: int | None = None) -> dict:
    """A running 50/50 (equal weights) experiment: the first variant in BM25 order, the
    others reranked."""
    overrides: dict[str, Any] = {} if recall_k is None else {"recall_k": recall_k}
    return {
        "id": experiment_id,
        "description": "shelf experiments simulate: simulated shoppers with a known truth",
        "traffic": 1.0,
        "variants": [
            {"name": name, "weight": 1, "overrides": {**overrides, "rerank": i > 0}}
            for i, name in enumerate(names)
        ],
        "control": names[0],
        "status": "running",
    }


def run_simulation(
    client: HttpClient,
    api_key: str,
    spec: dict,
    truth: Truth,
    users: Iterable[SimulatedUser],
    *,
    threads: int = 4,
    batch: int = 500,
) -> dict[str, Any]:
    """Create the experiment, search and post events for every kept user, stop it and return
    the report with the truth beside it."""
    headers = {"X-API-Key": api_key}
    experiment = Experiment.model_validate(
        answer_json(client.post("/experiments", json=spec, headers=headers))
    )
    users = list(users)
    kept = [u for u in users if not is_lost(u, u.variant_in(experiment), truth)]
    counts = {"users": len(users), "lost_users": len(users) - len(kept), "outside": 0}
    counts["searches"] = sum(len(u.searches) for u in kept)
    started = time.perf_counter()
    events: list[dict[str, Any]] = []
    with (
        progress_bar(counts["searches"], "searches") as bar,
        ThreadPoolExecutor(threads) as pool,
    ):
        shopped = pool.map(lambda u: _shop(client, experiment, truth, u), kept)
        for user, (user_events, outside) in zip(kept, shopped, strict=True):
            events += user_events
            counts["outside"] += outside
            bar.update(len(user.searches))
    searches_s = time.perf_counter() - started
    note(f"{counts['searches']} searches in {searches_s:.1f} s; posting {len(events)} events")
    stored = {"sent": len(events), "stored": 0, "duplicates": 0, "rejected": 0}
    for start in range(0, len(events), batch):
        answer = answer_json(
            client.post("/events", json=events[start : start + batch], headers=headers)
        )
        for key in ("stored", "duplicates"):
            stored[key] += answer[key]
        stored["rejected"] += answer["rejected_count"]
    answer_json(
        client.patch(f"/experiments/{experiment.id}", json={"status": "stopped"}, headers=headers)
    )
    report = answer_json(client.get(f"/experiments/{experiment.id}/report", headers=headers))
    return {
        "experiment": experiment.id,
        "seconds": round(searches_s, 1),
        "searches_per_s": round(counts["searches"] / searches_s, 1) if searches_s else None,
        **counts,
        "events": stored,
        "truth": {"ctr": dict(truth.ctr), "conversion": truth.conversion, "lose": dict(truth.lose)},
        "variants": compare(report, truth),
        "srm": report["srm"],
        "warnings": report["warnings"],
    }


def _shop(
    client: HttpClient, experiment: Experiment, truth: Truth, user: SimulatedUser
) -> tuple[list[dict[str, Any]], int]:
    """One user's searches and the events they lead to; and how many searches another
    experiment took (the server's oldest running experiment wins)."""
    events, outside = [], 0
    for search in user.searches:
        params = {"q": search.query, "locale": search.locale, "user_id": user.user_id}
        answer = answer_json(search_until_served(client, params))
        if answer["experiment"] != experiment.id:
            outside += 1
            continue
        items = answer["items"]
        for n, event in enumerate(outcome(search, answer["variant"], len(items), truth)):
            item = items[event.position - 1]
            events.append(
                {
                    "event_id": f"{experiment.id}.{user.user_id}.{search.index}.{n}",
                    "type": event.type,
                    "request_id": answer["request_id"],
                    "product_id": item["product_id"],
                    "position": item["position"],
                    "user_id": user.user_id,
                    "value": event.value,
                    "currency": "USD" if event.value is not None else None,
                }
            )
    return events, outside


# A shed search (503 with Retry-After) is sent again, as a storefront would: the simulator
# measures the experiment's statistics, and a busy server is not a failed run.
SHED_RETRIES = 8
SHED_WAIT_CAP_S = 1.0


def search_until_served(client: HttpClient, params: dict[str, Any]) -> Any:
    """``GET /search``, sent again (at most ``SHED_RETRIES`` times) while the server sheds it,
    waiting its ``Retry-After`` (capped at ``SHED_WAIT_CAP_S``); the last response."""
    for _ in range(SHED_RETRIES):
        response = client.get("/search", params=params)
        if response.status_code != 503:
            return response
        retry_after = response.headers.get("retry-after", "")
        wait = float(retry_after) if retry_after.isdigit() else SHED_WAIT_CAP_S
        time.sleep(min(wait, SHED_WAIT_CAP_S))
    return client.get("/search", params=params)


def compare(report: dict[str, Any], truth: Truth) -> list[dict[str, Any]]:
    """Per variant and metric: the true value and lift beside the report's estimate, interval,
    whether the interval covers the truth, p-value and significance."""
    variants = report["overall"]["variants"]
    control = next(v["variant"] for v in variants if v["is_control"])
    rows = []
    for variant in variants:
        name = variant["variant"]
        row: dict[str, Any] = {k: variant[k] for k in ("variant", "is_control", "users")}
        row["searches"] = variant["impressions"]
        for metric in METRICS:
            found = variant["metrics"][metric]
            true, true_control = _true(metric, truth, name), _true(metric, truth, control)
            low, high = found["ci_low"], found["ci_high"]
            lift = None if name == control or not true_control else true / true_control - 1
            row[metric] = {
                "true": true,
                "value": found["value"],
                "ci": [low, high],
                "covered": None if low is None else low <= true <= high,
                "true_lift": lift,
                "lift": found["lift"],
                "lift_ci": [found["lift_ci_low"], found["lift_ci_high"]],
                "p_value": found["p_value"],
                "significant": found["significant"],
            }
        rows.append(row)
    return rows


def _true(metric: str, truth: Truth, variant: str) -> float:
    return truth.ctr[variant] if metric == "ctr" else truth.conversion_rate(variant)


def format_result(result: dict[str, Any]) -> str:
    """The result for people: one table per metric, then the split check."""
    events = result["events"]
    lines = [
        f"experiment {result['experiment']}: {result['users']} users "
        f"({result['lost_users']} lost on purpose), {result['searches']} searches in "
        f"{result['seconds']} s ({result['searches_per_s']}/s), {events['stored']} of "
        f"{events['sent']} events stored ({events['rejected']} rejected)"
    ]
    for metric in METRICS:
        lines.append(f"\n{metric:<16}{'truth':>8}{'estimate':>10}  {'95% CI':<18}{'covered':<9}"
                     f"{'true lift':>10}{'lift':>9}  {'p-value':<9}significant")  # fmt: skip
        for row in result["variants"]:
            m = row[metric]
            ci = "-" if m["ci"][0] is None else f"[{m['ci'][0]:.4f}, {m['ci'][1]:.4f}]"
            lines.append(
                f"{row['variant']:<16}{m['true']:>8.4f}{_num(m['value'], '.4f'):>10}  {ci:<18}"
                f"{_yes(m['covered']):<9}{_num(m['true_lift'], '+.1%'):>10}"
                f"{_num(m['lift'], '+.1%'):>9}  {_num(m['p_value'], '.2g'):<9}"
                f"{'-' if row['is_control'] else _yes(m['significant'])}"
            )
    lines.append(f"\nsample ratio: {result['srm']['message']}")
    lines += [f"warning: {w}" for w in result["warnings"]]
    return "\n".join(lines)


def _num(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _yes(flag: bool | None) -> str:
    return "-" if flag is None else ("yes" if flag else "no")


def answer_json(response: Any) -> Any:
    """The response's JSON; ``ShelfError`` with the route, status and body when it failed."""
    if response.status_code >= 300:
        raise ShelfError(
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code}: {response.text[:500]}"
        )
    return response.json()


def progress_bar(total: int, unit: str) -> tqdm[Any]:
    """A tqdm bar on stderr when it is a terminal; one line when it starts otherwise."""
    note(f"sending {total} {unit}")
    return tqdm(total=total, unit=unit, file=sys.stderr, disable=not sys.stderr.isatty())


def note(line: str) -> None:
    """A progress line on stderr when it is not a terminal (a tqdm bar shows there otherwise)."""
    if not sys.stderr.isatty():
        print(line, file=sys.stderr, flush=True)
