"""``shelf experiments simulate``: the command over ``search.experiments.simulate``.

Without ``--url`` the API runs in this process: the caller hands in the app factory
(``search.api.app.create_app``, passed down by ``search.cli.main``)."""

from __future__ import annotations

import argparse
import secrets
from collections.abc import Callable
from typing import Any

import httpx
from pydantic import SecretStr

from search.cli.common import emit
from search.errors import ShelfError
from search.experiments.simulate import experiment_spec, format_result, run_simulation
from search.experiments.traffic import Truth, generate_users
from search.settings import Settings


def _name_value(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    try:
        share = float(value)
    except ValueError:
        share = -1.0
    if not sep or not name or not 0 <= share <= 1:
        raise argparse.ArgumentTypeError(f"expected NAME=SHARE with SHARE in [0, 1], got {text!r}")
    return name, share


def add_simulate_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``shelf experiments simulate``."""
    parser.add_argument("--url", help="a running server (default: the app in-process)")
    parser.add_argument("--api-key", help="the server's API key (default: SHELF_API_KEY)")
    parser.add_argument("--users", type=int, default=3600, help="simulated users (3600)")
    parser.add_argument(
        "--searches-per-user", type=float, default=4, help="mean searches per user (4)"
    )
    parser.add_argument(
        "--ctr",
        type=_name_value,
        action="append",
        metavar="VARIANT=P",
        help="true CTR of a variant, repeatable; the first is the control "
        "(default: control=0.10 treatment=0.12)",
    )
    parser.add_argument(
        "--conversion", type=float, default=0.2, help="true P(purchase | click) (0.2)"
    )
    parser.add_argument(
        "--lose",
        type=_name_value,
        action="append",
        default=[],
        metavar="VARIANT=SHARE",
        help="drop that share of the variant's users' traffic entirely (a broken tracking arm)",
    )
    parser.add_argument("--recall-k", type=int, help="candidates every variant recalls")
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument("--experiment-id", help="default: sim-<seed>-<random>")
    parser.add_argument("--threads", type=int, default=4, help="users searched at once (4)")
    parser.add_argument("--batch", type=int, default=500, help="events per POST /events (500)")


AppFactory = Callable[[Settings], Any]  # settings -> an ASGI app (search.api.app.create_app)


def cmd_simulate(
    args: argparse.Namespace, settings: Settings, *, app_factory: AppFactory | None = None
) -> int:
    """Run one simulation and print truth beside the report's estimates: against ``--url``, or
    against ``app_factory(settings)`` run in this process (required without ``--url``)."""
    from catalog.samples import sample_queries

    truth = Truth(dict(args.ctr or [("control", 0.10), ("treatment", 0.12)]), args.conversion,
                  dict(args.lose))  # fmt: skip
    spec = experiment_spec(
        args.experiment_id or f"sim-{args.seed}-{secrets.token_hex(3)}",
        list(truth.ctr),
        recall_k=args.recall_k,
    )
    queries = [(q["text"], q["locale"]) for q in sample_queries()]
    users = generate_users(args.users, args.searches_per_user, queries, seed=args.seed)
    api_key = args.api_key or (settings.api_key.get_secret_value() if settings.api_key else None)
    if args.url:
        if not api_key:
            raise ShelfError("the server needs its API key: pass --api-key or set SHELF_API_KEY")
        with httpx.Client(base_url=args.url, timeout=60) as client:
            result = run_simulation(client, api_key, spec, truth, users, threads=args.threads,
                                    batch=args.batch)  # fmt: skip
    else:
        from fastapi.testclient import TestClient

        if app_factory is None:
            raise ShelfError(
                "simulate without --url runs the API in this process but was given no app "
                "factory: pass --url, or run it as `shelf experiments simulate`"
            )
        api_key = api_key or secrets.token_hex(16)  # the in-process app is ours alone
        app = app_factory(settings.model_copy(update={"api_key": SecretStr(api_key)}))
        with TestClient(app) as test_client:
            result = run_simulation(test_client, api_key, spec, truth, users,
                                    threads=args.threads, batch=args.batch)  # fmt: skip
    emit(args, result, format_result(result))
    return 0
