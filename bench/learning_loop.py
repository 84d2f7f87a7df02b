"""The learning loop, end to end in the simulator: Shelf learns a ranker from its own clicks.

Simulated shoppers click by a known true relevance (the sample judgments: same-language and
cross-language queries; unjudged products grade 0) times a position bias (examination 1/k,
``search.experiments.shoppers``). Everything goes through the real API in this process (FastAPI's
TestClient on ``create_app``), the SQLite event store and Shelf's own pipeline:

1. two simulated weeks of traffic under today's order, ``SHELF_RANKER=none``: the fused (RRF)
   order shoppers get without a learned ranker. Not the shipped default ranker: it was trained
   on half of these very judgments, so it already knows much of the simulator's truth and the
   loop would have little left to show; the fused order is what a shop runs before it learns;
2. click judgments from that log (COEC with position-based-model priors);
3. a ranker trained on them (``search.learning.from_events.train_from_events``: what
   ``shelf ranker train --from-events`` runs);
4. an A/B experiment of the trained ranker against ``ranker=none`` through the API, with new
   shoppers, read from ``GET /experiments/{id}/report``.

The queries are split in two by ``sha256(seed:query_id)`` (``--heldout``, per set): shoppers of
the two logged weeks send only the training half, so the ranker never sees a click on the other
half. nDCG@10 against the true relevance is measured on the held-out half before and after,
through ``shelf eval``'s machinery (``SearchService.search``), with the paired test; the A/B's
shoppers send the held-out half too (``--ab-queries all`` for every query). No cross-encoder
runs (``rerank=false``): the app loads the tiny test model only because it requires one.

Run: ``python -m bench.learning_loop`` (``--log-users``, ``--ab-users`` to size it). Progress goes
to stderr; ends with one ``RESULT key=value ...`` line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import hardware

START = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)  # the simulated log's first day (a Monday)
LOG_DAYS = 14
AB_DAYS = 7
API_KEY = "bench-learning-loop-0123456789"
SETS = (("same", "sample_queries.jsonl", "sample_judgments.jsonl"),
        ("xling", "sample_queries_xling.jsonl", "sample_judgments_xling.jsonl"))  # fmt: skip


def _stage(line: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


def split_queries(
    seed: int, heldout: float, per_set: int | None = None
) -> tuple[list[Any], list[Any], dict[str, str]]:
    """(training queries, held-out queries, set of each query id): per set (its first
    ``per_set`` queries by ``sha256(seed:query_id)``, default all), the ``heldout`` share first
    in that order is held out."""
    from catalog.samples import DATA_DIR
    from search.evaluation.judgments import read_queries

    train, held, set_of = [], [], {}
    for name, queries_file, _ in SETS:
        queries = read_queries(DATA_DIR / queries_file)
        ordered = sorted(
            queries, key=lambda q: hashlib.sha256(f"{seed}:{q.query_id}".encode()).digest()
        )[:per_set]
        count = round(heldout * len(ordered))
        held += ordered[:count]
        train += ordered[count:]
        set_of |= {q.query_id: name for q in queries}
    return train, held, set_of


def true_relevance() -> dict[str, dict[str, int]]:
    """The simulator's truth: every sample judgment (query id -> product -> grade)."""
    from catalog.samples import DATA_DIR
    from search.evaluation.judgments import read_judgments

    qrels: dict[str, dict[str, int]] = {}
    for _, _, judgments_file in SETS:
        qrels |= {qid: dict(g) for qid, g in read_judgments(DATA_DIR / judgments_file).items()}
    return qrels


def prepare(work: Path) -> dict[str, str]:
    """The index of the sample catalog with every product's vector, the tiny test model the
    app requires (never used: rerank=false), and the settings of every step as environment."""
    from catalog.ingest import ingest_file
    from catalog.samples import SAMPLE_CATALOG
    from search.embedding.run import run_embedding
    from search.recall.factory import make_recall
    from search.settings import Settings
    from workers.tiny_model import build_test_model, catalog_texts

    model = build_test_model(work / "model", catalog_texts(SAMPLE_CATALOG), seed=0)
    env = {
        "SHELF_DATA_DIR": str(work / "data"),
        "SHELF_EVENTS_URL": f"sqlite:///{work / 'events.db'}",
        "SHELF_RERANK_MODEL": str(model),
        "SHELF_RERANK_DEVICE": "cpu",
        "SHELF_SCORE_CACHE": "memory",
        "SHELF_RECALL_MODE": "hybrid",
        "SHELF_RANKER": "none",
        "SHELF_EMBED_PROCESSES": "1",
        "SHELF_ANALYTICS_MIN_USERS": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    os.environ.update(env)
    settings = Settings()
    recall = make_recall(settings)
    try:
        report = ingest_file(SAMPLE_CATALOG, recall)
        run_embedding(recall, settings, celery=False, quiet=True)
    finally:
        recall.close()
    _stage(f"indexed {report.indexed} products with their vectors under {work}")
    return env


def ndcg(queries: list[Any], qrels: dict[str, dict[str, int]], rankers: list[str]) -> list[Any]:
    """nDCG@10 of ``queries`` against the truth under each ranker, through ``shelf eval``'s
    machinery (hybrid recall, no cross-encoder): one (ranked, evaluation) per ranker."""
    from search.evaluation.run import EvalConfig, evaluate_configs
    from search.settings import Settings

    configs = [EvalConfig(rerank=False, recall_k=50, recall="hybrid", ranker=r) for r in rankers]
    results, _ = evaluate_configs(configs, queries, qrels, k=10, catalog=None, settings=Settings())
    return results


def shoppers_for(queries: list[Any], users: int, start: dt.datetime, days: int, seed: int,
                 prefix: str) -> list[Any]:  # fmt: skip
    """``users`` shoppers, about three searches each, over ``days`` from ``start``."""
    from search.experiments.shoppers import ShopperQuery, plan_shoppers

    asked = [ShopperQuery(q.query_id, q.text, q.locale) for q in queries]
    return plan_shoppers(asked, users, 3, start=start, days=days, seed=seed, prefix=prefix)


def run_app(clock: Any, work: str) -> Any:
    """The API on the bench's settings, with the simulated clock, in this process."""
    from fastapi.testclient import TestClient
    from pydantic import SecretStr

    from search.api.app import create_app
    from search.settings import Settings

    settings = Settings(api_key=SecretStr(API_KEY))
    return TestClient(create_app(settings, clock=clock))


def main(argv: list[str] | None = None) -> int:
    """Run the loop and print the RESULT line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log-users", type=int, default=2400, help="shoppers, weeks 1-2")
    parser.add_argument("--ab-users", type=int, default=2000, help="shoppers in the A/B")
    parser.add_argument("--heldout", type=float, default=0.5, help="queries held out per set")
    parser.add_argument("--ab-queries", choices=["heldout", "all"], default="heldout")
    parser.add_argument("--min-impressions", type=int, default=20, help="to judge a pair")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--queries-per-set", type=int, help="fewer queries (default: all 80)")
    parser.add_argument(
        "--unjudged",
        choices=["skip", "irrelevant"],
        default="skip",
        help="candidates clicks did not judge: left out of training, or grade 0",
    )
    parser.add_argument("--work", type=Path, help="keep the index, log and ranker here")
    args = parser.parse_args(argv)
    print(hardware(), flush=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="shelf-loop-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        return _loop(args, work, started)


def _loop(args: argparse.Namespace, work: Path, started: float) -> int:
    from search.evaluation.compare import compare_metric
    from search.experiments.shoppers import RelevanceTruth
    from search.experiments.shopping import SimulatedClock, ab_test, metric_lift, shop
    from search.learning.from_events import train_from_events
    from search.settings import Settings

    prepare(work)
    train, held, set_of = split_queries(args.seed, args.heldout, args.queries_per_set)
    qrels = true_relevance()
    truth = RelevanceTruth(qrels)
    _stage(f"{len(train)} training queries (shoppers send them in weeks 1-2), {len(held)} "
           "held out (never in the log)")  # fmt: skip

    # 1. Two weeks of traffic under today's order.
    clock = SimulatedClock(START)
    log_shoppers = shoppers_for(train, args.log_users, START, LOG_DAYS, args.seed, "week12")
    with run_app(clock, str(work)) as client:
        logged = shop(client, API_KEY, log_shoppers, truth, clock, params={"rerank": "false"})
    _stage(f"weeks 1-2: {logged.searches} searches, CTR {logged.ctr:.3f}, {logged.stored} "
           f"events stored, in {logged.seconds} s")  # fmt: skip

    # 2 and 3. Click judgments from the log, a ranker trained on them.
    ranker_dir = work / "ranker-from-clicks"
    until = START + dt.timedelta(days=LOG_DAYS)
    trained, clicks = train_from_events(
        Settings(), START, until, min_impressions=args.min_impressions, seed=args.seed,
        progress=sys.stderr.isatty(),
    )  # fmt: skip
    trained.save(ranker_dir)
    _stage(f"click judgments: {json.dumps(clicks.summary())}")
    card = json.loads((ranker_dir / "ranker.json").read_text(encoding="utf-8"))["card"]
    trained_on = card.get("data", {}).get("queries")
    _stage(f"trained on the click judgments of {trained_on} queries -> {ranker_dir}")

    # nDCG@10 against the true relevance, before (fused order) and after (the trained ranker).
    rows = {}
    for name, queries in (("heldout", held), ("train", train)):
        before, after = ndcg(queries, qrels, ["none", str(ranker_dir)])
        test = compare_metric(before[1], after[1], "nDCG@10")
        rows[name] = (test.mean_a, test.mean_b, test.p_value)
        for label in ("same", "xling"):
            ids = {q.query_id for q in queries if set_of[q.query_id] == label}
            b = _mean(before[1], ids)
            a = _mean(after[1], ids)
            _stage(f"nDCG@10 {name} {label}: {b:.3f} -> {a:.3f}")
        _stage(f"nDCG@10 {name} queries: {test.mean_a:.3f} -> {test.mean_b:.3f} "
               f"(paired p={test.p_value:.2g})")  # fmt: skip

    # 4. The A/B experiment: the trained ranker against today's order, new shoppers.
    ab_queries = held if args.ab_queries == "heldout" else train + held
    ab_start = until + dt.timedelta(days=1)
    ab_shoppers = shoppers_for(ab_queries, args.ab_users, ab_start, AB_DAYS, args.seed + 1, "ab")
    spec = {
        "id": f"loop-{args.seed}",
        "description": "bench/learning_loop.py: the ranker trained from clicks vs the fused order",
        "variants": [
            {"name": "control", "overrides": {"ranker": "none"}},
            {"name": "trained", "overrides": {"ranker": str(ranker_dir)}},
        ],
    }
    clock.set(ab_start)
    with run_app(clock, str(work)) as client:
        tested, report = ab_test(client, API_KEY, spec, ab_shoppers, truth, clock,
                                 params={"rerank": "false"})  # fmt: skip
    lift = metric_lift(report, "ctr")
    _stage(f"A/B over {tested.searches} searches: CTR {lift['control']:.4f} -> "
           f"{lift['treatment']:.4f} ({lift['lift']:+.1%}, p={lift['p_value']:.2g})")  # fmt: skip

    before_h, after_h, p_h = rows["heldout"]
    seconds = time.perf_counter() - started
    print(f"nDCG@10 vs true relevance, {len(held)} held-out queries: {before_h:.4f} (ranker=none) "
          f"-> {after_h:.4f} (trained from clicks), paired p={p_h:.2g}")  # fmt: skip
    print(f"nDCG@10, {len(train)} training queries: {rows['train'][0]:.4f} -> "
          f"{rows['train'][1]:.4f}")  # fmt: skip
    print(f"A/B CTR {lift['control']:.4f} -> {lift['treatment']:.4f}: lift {lift['lift']:+.2%}, "
          f"p={lift['p_value']:.2g}, {lift['searches']}")  # fmt: skip
    print(
        "RESULT "
        f"ndcg_before={before_h:.4f} ndcg_after={after_h:.4f} ndcg_gain={after_h - before_h:.4f} "
        f"ndcg_p={p_h:.3g} train_ndcg_before={rows['train'][0]:.4f} "
        f"train_ndcg_after={rows['train'][1]:.4f} ctr_control={lift['control']:.4f} "
        f"ctr_trained={lift['treatment']:.4f} ctr_lift={lift['lift']:.4f} "
        f"ctr_p={lift['p_value']:.3g} log_searches={logged.searches} "
        f"judged_queries={trained_on} ab_searches={tested.searches} seconds={seconds:.0f}"
    )
    return 0


def _mean(evaluation: Any, ids: set[str]) -> float:
    values = [q.scores["nDCG@10"] for q in evaluation.queries if q.query_id in ids]
    return sum(values) / len(values) if values else float("nan")


if __name__ == "__main__":
    sys.exit(main())
