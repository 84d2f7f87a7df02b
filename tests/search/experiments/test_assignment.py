"""Assignment: deterministic, stable across processes, split as the weights say."""

from __future__ import annotations

import datetime as dt
import math
import subprocess
import sys

from search.events.definitions import Experiment
from search.experiments.assignment import DEFAULT, assign, variant_for

NOW = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)


def _experiment(experiment_id: str = "exp-a", **fields: object) -> Experiment:
    values: dict = {"variants": [{"name": "control"}, {"name": "treatment"}], "created_at": NOW}
    values.update(fields)
    return Experiment(id=experiment_id, status="running", **values)


def _within(count: int, n: int, share: float, sigmas: float = 4.0) -> bool:
    return abs(count - n * share) <= sigmas * math.sqrt(n * share * (1 - share))


def test_assignment_is_the_same_in_another_process() -> None:
    experiment = _experiment()
    here = [variant_for(experiment, f"user:{n}") for n in range(200)]
    code = (
        "import datetime as dt, json;"
        "from search.experiments.assignment import variant_for;"
        "from search.events.definitions import Experiment;"
        "e = Experiment(id='exp-a', status='running', created_at=dt.datetime.now(dt.UTC),"
        " variants=[{'name': 'control'}, {'name': 'treatment'}]);"
        "print(json.dumps([variant_for(e, f'user:{n}') for n in range(200)]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(here).replace("'", '"')


def test_anonymous_shoppers_and_no_experiments_get_the_default() -> None:
    assert assign([_experiment()], None, None) == DEFAULT
    assert assign([], "u1", None) == DEFAULT


def test_the_user_id_wins_over_the_session_id() -> None:
    experiments = [_experiment()]
    by_user = {assign(experiments, "u7", f"s{n}").variant for n in range(50)}
    assert len(by_user) == 1


def test_traffic_share_keeps_the_rest_on_the_default() -> None:
    experiment = _experiment(traffic=0.2)
    n = 20_000
    inside = sum(variant_for(experiment, f"user:{i}") is not None for i in range(n))
    assert _within(inside, n, 0.2)


def test_raising_the_traffic_share_moves_nobody_already_in() -> None:
    small, large = _experiment(traffic=0.1), _experiment(traffic=0.5)
    for i in range(5_000):
        before = variant_for(small, f"user:{i}")
        if before is not None:
            assert variant_for(large, f"user:{i}") == before


def test_weights_set_the_split() -> None:
    experiment = _experiment(
        variants=[{"name": "a", "weight": 1}, {"name": "b", "weight": 3}, {"name": "c"}]
    )
    n = 30_000
    names = [variant_for(experiment, f"session:{i}") for i in range(n)]
    assert _within(names.count("b"), n, 0.6) and _within(names.count("c"), n, 0.2)


def test_a_second_experiment_gets_only_those_the_first_leaves() -> None:
    first, second = _experiment("first", traffic=0.3), _experiment("second")
    n = 10_000
    got = [assign([first, second], f"u{i}", None).experiment_id for i in range(n)]
    assert _within(got.count("first"), n, 0.3) and got.count("second") == n - got.count("first")
