"""`shelf experiments`: create, list, start, pause, stop and report A/B experiments.

The CLI works on the event store directly (``SHELF_EVENTS_URL``), like the API does. A server
picks up a start or stop made here within ``SHELF_EXPERIMENTS_REFRESH_S`` seconds, and loads the
variant models then; a model it cannot load keeps that experiment off its searches (logged).
"""

from __future__ import annotations

import argparse
import datetime as dt
from contextlib import closing
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from catalog.product import describe_validation_error
from search.cli.common import Handler, add_command, emit
from search.cli.parsers import number_list, read_json_file
from search.errors import InvalidQuery
from search.events.definitions import Experiment, ExperimentSpec
from search.settings import Settings

if TYPE_CHECKING:
    from search.cli.simulate import AppFactory

_OVERRIDE_KEYS = {"rerank", "recall_k", "model", "blend", "ranker"}


def parse_variant(text: str) -> dict[str, Any]:
    """``NAME[:key=value,...]`` (keys: weight, rerank, recall_k, model, blend, ranker) as a
    variant."""
    name, _, options = text.partition(":")
    variant: dict[str, Any] = {"name": name.strip(), "overrides": {}}
    for option in filter(None, (part.strip() for part in options.split(","))):
        key, sep, value = option.partition("=")
        key = key.strip()
        if not sep or key not in _OVERRIDE_KEYS | {"weight"}:
            raise argparse.ArgumentTypeError(
                f"{option!r} in --variant {text!r}: expected key=value with key one of "
                "weight, rerank, recall_k, model, blend, ranker"
            )
        target = variant if key == "weight" else variant["overrides"]
        # A ranker is a name or a path, never a number or a flag.
        target[key] = value.strip() if key == "ranker" else _value(value.strip())
    return variant


def _value(text: str) -> Any:
    lowered = text.lower()
    if lowered in {"true", "on", "yes"}:
        return True
    if lowered in {"false", "off", "no"}:
        return False
    try:
        return float(text) if "." in text else int(text)
    except ValueError:
        return text


def _spec(args: argparse.Namespace) -> ExperimentSpec:
    if args.file is not None:
        data = read_json_file(args.file, "definition")
        if not isinstance(data, dict):
            raise InvalidQuery(f"{args.file}: expected a JSON object")
        data.setdefault("id", args.id)
    else:
        data = {"id": args.id, "variants": args.variant or []}
        if args.description is not None:
            data["description"] = args.description
        if args.traffic is not None:
            data["traffic"] = args.traffic
        if args.control is not None:
            data["control"] = args.control
    try:
        return ExperimentSpec.model_validate(data)
    except ValidationError as exc:
        raise InvalidQuery("invalid experiment: " + describe_validation_error(exc)) from None


def _line(experiment: Experiment) -> str:
    variants = ", ".join(f"{v.name}({v.weight:g})" for v in experiment.variants)
    return (
        f"{experiment.id:<24} {experiment.status:<8} traffic {experiment.traffic:.0%}  "
        f"{variants}  {experiment.description}"
    ).rstrip()


def cmd_create(args: argparse.Namespace, settings: Settings) -> int:
    """Store a new experiment (a draft, or running with ``--start``)."""
    from search.events.log import make_event_log

    now = dt.datetime.now(dt.UTC)
    experiment = Experiment(**_spec(args).model_dump(), created_at=now)
    if args.start:
        experiment = experiment.moved_to("running", now)
    with closing(make_event_log(settings)) as event_log:
        event_log.create_experiment(experiment)
    emit(args, experiment.model_dump(mode="json"), "created " + _line(experiment))
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    """Every experiment, oldest first."""
    from search.events.log import make_event_log

    with closing(make_event_log(settings)) as event_log:
        experiments = event_log.experiments(args.status)
    human = "\n".join(_line(e) for e in experiments) or "no experiments"
    emit(args, [e.model_dump(mode="json") for e in experiments], human)
    return 0


def _move(status: str) -> Handler:
    def handler(args: argparse.Namespace, settings: Settings) -> int:
        from search.events.log import make_event_log

        with closing(make_event_log(settings)) as event_log:
            experiment = event_log.experiment(args.id).moved_to(status)  # type: ignore[arg-type]
            event_log.update_experiment(experiment)
        emit(args, experiment.model_dump(mode="json"), _line(experiment))
        return 0

    handler.__doc__ = f"Move an experiment to {status}."
    return handler


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    """Metrics per variant with intervals, lift, p-values and the SRM check."""
    from search.events.log import make_event_log
    from search.experiments.report import experiment_report
    from search.experiments.report_text import format_report

    with closing(make_event_log(settings)) as event_log:
        report = experiment_report(event_log, event_log.experiment(args.id))
    emit(args, report, format_report(report))
    return 0


def cmd_plan(args: argparse.Namespace, settings: Settings) -> int:
    """Users per arm and days to detect an MDE, or the MDE reachable in some days."""
    from search.events.log import make_event_log
    from search.experiments.baseline import plan_experiment
    from search.experiments.planning import PlanRequest, format_plan

    given = {k: v for k, v in vars(args).items() if k in PlanRequest.model_fields and v is not None}
    try:
        request = PlanRequest.model_validate(given)
    except ValidationError as exc:
        raise InvalidQuery("invalid plan: " + describe_validation_error(exc)) from None
    with closing(make_event_log(settings)) as event_log:
        result = plan_experiment(request, event_log.engine, event_log.tables)
    emit(args, result, format_plan(result))
    return 0


def _weights(text: str) -> list[float]:
    weights = number_list(text, float)
    if not weights:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}")
    return weights


def add_experiments_commands(
    experiments: argparse.ArgumentParser, app_factory: AppFactory | None = None
) -> None:
    """The subcommands of ``shelf experiments``; ``simulate`` without ``--url`` runs the API
    that ``app_factory`` builds (``search.cli.main`` passes ``create_app``)."""
    commands = experiments.add_subparsers(dest="experiments_command", required=True)
    command = partial(add_command, commands)

    create = command("create", cmd_create, "Define an experiment (a draft unless --start).")
    create.add_argument("id", help="experiment id: lower-case letters, digits, . _ -")
    create.add_argument(
        "--variant",
        action="append",
        type=parse_variant,
        help="NAME[:key=value,...], keys weight, rerank, recall_k, model, blend, ranker "
        "(default, none or a directory); repeat for each variant, control first (e.g. "
        "--variant control:ranker=none --variant trained:ranker=models/ranker-v2)",
    )
    create.add_argument("--traffic", type=float, help="share of users in it, 0-1 (default 1)")
    create.add_argument("--control", help="the baseline variant (default: the first)")
    create.add_argument("--description")
    create.add_argument("--file", type=Path, help="the whole definition as JSON instead")
    create.add_argument("--start", action="store_true", help="start it at once")

    listing = command("list", cmd_list, "List experiments, oldest first.")
    listing.add_argument("--status", choices=["draft", "running", "paused", "stopped"])

    for status, verb in (("running", "start"), ("paused", "pause"), ("stopped", "stop")):
        move = command(verb, _move(status), f"Move an experiment to {status}.")
        move.add_argument("id")

    report = command("report", cmd_report, "Print an experiment's report.")
    report.add_argument("id")

    planning = command(
        "plan", cmd_plan, "Users and days to detect an effect (or the effect some days detect)."
    )
    planning.add_argument(
        "--metric", required=True, help="ctr, conversion_rate or revenue_per_search"
    )
    goal = planning.add_mutually_exclusive_group(required=True)
    goal.add_argument("--mde", type=float, help="relative minimum detectable effect (0.05: +5%%)")
    goal.add_argument("--days", type=float, help="days it would run: prints the MDE reachable")
    planning.add_argument(
        "--baseline", type=float, help="the metric now (default: the log's last days)"
    )
    planning.add_argument(
        "--baseline-sd",
        type=float,
        help="with --baseline: per-search sd (default for a rate p: sqrt(p(1-p)))",
    )
    planning.add_argument(
        "--searches-per-unit", type=float, help="with --baseline: searches per user (1)"
    )
    planning.add_argument("--units-per-day", type=float, help="users/day (default: the log)")
    planning.add_argument("--lookback-days", type=int, help="days of log to measure (14)")
    planning.add_argument(
        "--weights", type=_weights, help="relative weights, control first (default 1,1)"
    )
    planning.add_argument("--traffic", type=float, help="share of users in it, 0-1 (1)")
    planning.add_argument("--alpha", type=float, help="two-sided significance level (0.05)")
    planning.add_argument("--power", type=float, help="power (0.8)")

    from search.cli.simulate import add_simulate_arguments, cmd_simulate

    add_simulate_arguments(
        command(
            "simulate",
            partial(cmd_simulate, app_factory=app_factory),
            "Replay generated traffic with known true CTRs through the API and compare the "
            "report with the truth.",
        )
    )
