"""``/experiments`` on the real app: definitions, status moves, and searches served by variant."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from search.api.app import Components
from search.events.definitions import Experiment
from search.experiments.assignment import variant_for
from tests.search.api.conftest import auth


def _create(client: TestClient, variants: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    body = {"id": f"exp-{uuid.uuid4().hex[:8]}", "variants": variants, **fields}
    response = client.post("/experiments", json=body, headers=auth())
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


@pytest.fixture
def stop_after(client: TestClient) -> Iterator[list[str]]:
    """Experiment ids to stop after the test (the app is shared by the whole session)."""
    ids: list[str] = []
    yield ids
    for experiment_id in ids:
        client.patch(f"/experiments/{experiment_id}", json={"status": "stopped"}, headers=auth())


def _user_in(experiment: dict[str, Any], variant: str) -> str:
    """A user id the hash puts into ``variant`` of ``experiment``."""
    parsed = Experiment.model_validate(experiment)
    for n in range(1000):
        user = f"u-{uuid.uuid4().hex[:6]}-{n}"
        if variant_for(parsed, f"user:{user}") == variant:
            return user
    raise AssertionError(f"no user lands in {variant}")


def test_every_experiments_route_needs_the_api_key(client: TestClient) -> None:
    assert client.get("/experiments").status_code == 401
    body = {"id": "nokey", "variants": [{"name": "a"}, {"name": "b"}]}
    assert client.post("/experiments", json=body).status_code == 401
    assert client.get("/experiments/nokey/report").status_code == 401


def test_a_created_experiment_is_listed_and_read_back(
    client: TestClient, stop_after: list[str]
) -> None:
    created = _create(client, [{"name": "a"}, {"name": "b", "weight": 3}], description="d")
    stop_after.append(created["id"])
    assert created["status"] == "draft" and created["control"] == "a"
    one = client.get(f"/experiments/{created['id']}", headers=auth()).json()
    assert one == created
    listed = client.get("/experiments", params={"status": "draft"}, headers=auth()).json()
    assert created["id"] in [e["id"] for e in listed["experiments"]]


def test_a_taken_id_is_409_and_a_bad_definition_422_naming_the_field(
    client: TestClient, stop_after: list[str]
) -> None:
    created = _create(client, [{"name": "a"}, {"name": "b"}])
    stop_after.append(created["id"])
    again = client.post(
        "/experiments", json={"id": created["id"], "variants": created["variants"]}, headers=auth()
    )
    assert again.status_code == 409 and "already exists" in again.json()["error"]["message"]
    bad = client.post(
        "/experiments",
        json={
            "id": "bad-one",
            "variants": [{"name": "a", "overrides": {"blend": 3}}, {"name": "b"}],
        },
        headers=auth(),
    )
    assert bad.status_code == 422 and "blend" in bad.json()["error"]["message"]


def test_an_unknown_experiment_is_404(client: TestClient) -> None:
    response = client.get("/experiments/never-made", headers=auth())
    assert response.status_code == 404
    assert "does not exist" in response.json()["error"]["message"]


def test_variants_cannot_change_once_running_and_nothing_once_stopped(
    client: TestClient, stop_after: list[str]
) -> None:
    created = _create(client, [{"name": "a"}, {"name": "b"}], status="running")
    url = f"/experiments/{created['id']}"
    changed = client.patch(url, json={"variants": [{"name": "x"}, {"name": "y"}]}, headers=auth())
    assert changed.status_code == 422 and "only change while it is a draft" in changed.text
    assert client.patch(url, json={"traffic": 0.5}, headers=auth()).json()["traffic"] == 0.5
    assert client.patch(url, json={"status": "stopped"}, headers=auth()).status_code == 200
    again = client.patch(url, json={"status": "running"}, headers=auth())
    assert again.status_code == 422 and "it can move to: none" in again.text


def test_a_search_is_served_and_logged_in_its_users_variant(
    client: TestClient, components: Components, stop_after: list[str]
) -> None:
    created = _create(
        client,
        [{"name": "bm25", "overrides": {"rerank": False}}, {"name": "model"}],
        status="running",
    )
    stop_after.append(created["id"])
    for variant, reranked in (("bm25", False), ("model", True)):
        user = _user_in(created, variant)
        body = client.get("/search", params={"q": "coffee", "user_id": user}).json()
        assert (body["experiment"], body["variant"]) == (created["id"], variant)
        assert body["reranked"] is reranked
        components.impressions.flush()
        with components.event_log.engine.connect() as conn:  # type: ignore[attr-defined]
            table = components.event_log.tables.searches  # type: ignore[attr-defined]
            row = conn.execute(table.select().where(table.c.request_id == body["request_id"])).one()
        assert (row.experiment_id, row.variant, row.unit_id) == (
            created["id"],
            variant,
            f"user:{user}",
        )


def test_anonymous_and_stopped_experiment_searches_get_the_default(
    client: TestClient, stop_after: list[str]
) -> None:
    created = _create(client, [{"name": "a"}, {"name": "b"}], status="running")
    anonymous = client.get("/search", params={"q": "coffee"}).json()
    assert (anonymous["experiment"], anonymous["variant"]) == (None, "default")
    client.patch(f"/experiments/{created['id']}", json={"status": "stopped"}, headers=auth())
    after = client.get("/search", params={"q": "coffee", "user_id": "someone"}).json()
    assert (after["experiment"], after["variant"]) == (None, "default")


def test_recall_k_and_blend_overrides_shape_the_answer(
    client: TestClient, stop_after: list[str]
) -> None:
    created = _create(
        client,
        [
            {"name": "narrow", "overrides": {"recall_k": 3}},
            {"name": "bm25-blend", "overrides": {"blend": 1.0}},
        ],
        status="running",
    )
    stop_after.append(created["id"])
    narrow = client.get(
        "/search", params={"q": "coffee", "user_id": _user_in(created, "narrow"), "page": 1}
    ).json()
    # recall_k is the rerank window: at most 3 candidates reranked; the match set is larger.
    assert narrow["candidates"] <= 3 and narrow["scored"] <= 3 and narrow["total"] > 3
    blended = client.get(
        "/search", params={"q": "coffee", "user_id": _user_in(created, "bm25-blend")}
    ).json()
    assert blended["reranked"] is True
    bm25 = [item["bm25_score"] for item in blended["items"]]
    assert bm25 == sorted(bm25, reverse=True)  # blend 1: BM25's order, model scores present
    finals = [item["final_score"] for item in blended["items"]]
    assert all(0.0 <= f <= 1.0 for f in finals)


def test_a_variant_model_is_loaded_at_start_and_reranks_its_searches(
    client: TestClient, test_model_dir: Path, tmp_path: Path, stop_after: list[str]
) -> None:
    other = shutil.copytree(test_model_dir, tmp_path / "other-model")
    created = _create(
        client,
        [{"name": "base"}, {"name": "other", "overrides": {"model": str(other)}}],
        status="running",
    )
    stop_after.append(created["id"])
    body = client.get(
        "/search", params={"q": "coffee", "user_id": _user_in(created, "other")}
    ).json()
    assert body["variant"] == "other" and str(other) in body["model"]
    base = client.get("/search", params={"q": "coffee", "user_id": _user_in(created, "base")})
    assert str(other) not in base.json()["model"]


def test_a_variant_model_that_cannot_load_refuses_the_start_naming_it(
    client: TestClient, tmp_path: Path
) -> None:
    response = client.post(
        "/experiments",
        json={
            "id": f"broken-{uuid.uuid4().hex[:6]}",
            "variants": [{"name": "a"}, {"name": "b", "overrides": {"model": str(tmp_path)}}],
            "status": "running",
        },
        headers=auth(),
    )
    assert response.status_code == 422
    assert "variant 'b'" in response.json()["error"]["message"]


def test_an_experiment_started_elsewhere_is_served_after_a_refresh(
    client: TestClient, components: Components, stop_after: list[str]
) -> None:
    import datetime as dt

    experiment = Experiment(
        id=f"elsewhere-{uuid.uuid4().hex[:6]}",
        variants=[{"name": "a"}, {"name": "b"}],  # type: ignore[list-item]
        created_at=dt.datetime.now(dt.UTC),
    ).moved_to("running")
    components.event_log.create_experiment(experiment)  # as `shelf experiments` would
    stop_after.append(experiment.id)
    components.experiments.refresh()  # what the background thread does every few seconds
    body = client.get("/search", params={"q": "coffee", "user_id": "anyone"}).json()
    assert body["experiment"] == experiment.id


def test_a_variant_ranker_is_loaded_at_start_and_orders_its_searches(
    client: TestClient, tmp_path: Path, stop_after: list[str]
) -> None:
    """The control keeps the server's order (SHELF_RANKER), the variant names a ranker
    directory (a copy of the shipped default) and its searches are ordered by it."""
    from search.ranking.model import DEFAULT_DIR

    trained = shutil.copytree(DEFAULT_DIR, tmp_path / "trained-ranker")
    created = _create(
        client,
        [{"name": "fused", "overrides": {"ranker": "none"}},
         {"name": "learned", "overrides": {"ranker": str(trained)}}],
        status="running",
    )  # fmt: skip
    stop_after.append(created["id"])
    params = {"q": "wooden chair", "rerank": "false"}
    learned = client.get("/search", params={**params, "user_id": _user_in(created, "learned")})
    fused = client.get("/search", params={**params, "user_id": _user_in(created, "fused")})
    assert learned.json()["variant"] == "learned"
    assert learned.json()["ranker"].startswith("trained-ranker@")
    assert fused.json()["variant"] == "fused" and fused.json()["ranker"] is None


@pytest.mark.parametrize(
    ("ranker", "reason"),
    [("missing", "no ranker there"), ("not-a-ranker", "cannot be read")],
)
def test_a_variant_ranker_that_cannot_load_refuses_the_start_naming_it(
    client: TestClient, tmp_path: Path, ranker: str, reason: str
) -> None:
    directory = tmp_path / ranker
    if ranker == "not-a-ranker":
        directory.mkdir()
        (directory / "model.txt").write_text("not a model")
        (directory / "ranker.json").write_text("{not json")
    response = client.post(
        "/experiments",
        json={
            "id": f"broken-ranker-{uuid.uuid4().hex[:6]}",
            "variants": [{"name": "a"}, {"name": "b", "overrides": {"ranker": str(directory)}}],
            "status": "running",
        },
        headers=auth(),
    )
    assert response.status_code == 422, response.text
    message = response.json()["error"]["message"]
    assert "variant 'b'" in message and "ranker" in message and reason in message, message


def test_an_empty_variant_ranker_is_a_422_naming_the_field(client: TestClient) -> None:
    response = client.post(
        "/experiments",
        json={
            "id": f"empty-ranker-{uuid.uuid4().hex[:6]}",
            "variants": [{"name": "a"}, {"name": "b", "overrides": {"ranker": ""}}],
        },
        headers=auth(),
    )
    assert response.status_code == 422
    assert "ranker" in response.text
