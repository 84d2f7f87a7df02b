"""GET /experiments/{id}/report: the numbers of searches and clicks sent through the API."""

from __future__ import annotations

import json
import uuid
from collections import Counter

from fastapi.testclient import TestClient

from tests.search.api.conftest import auth


def test_the_report_counts_the_searches_and_clicks_sent_through_the_api(
    client: TestClient,
) -> None:
    # The session's store may hold running experiments that earlier tests left (the schema fuzz
    # creates some, and which ones depends on the whole schema): an older one that takes every
    # shopper would leave this one none. Pause them: every test that needs one creates its own.
    running = client.get("/experiments", params={"status": "running"}, headers=auth()).json()
    for other in running["experiments"]:
        paused = client.patch(
            f"/experiments/{other['id']}", json={"status": "paused"}, headers=auth()
        )
        assert paused.status_code == 200, paused.text
    experiment_id = f"report-{uuid.uuid4().hex[:12]}"
    definition = {
        "id": experiment_id,
        "status": "running",
        "variants": [{"name": "control"}, {"name": "treatment"}],
    }
    created = client.post("/experiments", json=definition, headers=auth())
    assert created.status_code == 201, created.text
    try:
        impressions: Counter[str] = Counter()
        users: dict[str, set[str]] = {"control": set(), "treatment": set()}
        clicks: Counter[str] = Counter()
        for i in range(12):
            user = f"shopper-{uuid.uuid4().hex[:8]}"
            for query in ("coffee", "tea"):
                response = client.get(
                    "/search", params={"q": query, "locale": "en", "k": 3, "user_id": user}
                )
                search = response.json()
                if search["experiment"] != experiment_id or not search["items"]:
                    continue  # an older running experiment took this shopper, or no results
                impressions[search["variant"]] += 1
                users[search["variant"]].add(user)
                if i % 3 == 0:  # one shopper in three clicks the second result
                    item = search["items"][1 if len(search["items"]) > 1 else 0]
                    event = {
                        "event_id": uuid.uuid4().hex,
                        "type": "click",
                        "request_id": search["request_id"],
                        "product_id": item["product_id"],
                        "position": item["position"],
                    }
                    stored = client.post("/events", json=event, headers=auth())
                    assert stored.status_code == 200, stored.text
                    clicks[search["variant"]] += 1
        assert sum(impressions.values()) > 0, "no search was assigned to the experiment"

        response = client.get(f"/experiments/{experiment_id}/report", headers=auth())
        assert response.status_code == 200, response.text
        report = json.loads(response.text)  # strict JSON: json.loads accepts no NaN from us
        variants = {v["variant"]: v for v in report["overall"]["variants"]}
        for name in ("control", "treatment"):
            assert variants[name]["impressions"] == impressions[name]
            assert variants[name]["users"] == len(users[name])
            assert variants[name]["clicks"] == clicks[name]
        assert report["srm"]["observed"] == {n: len(u) for n, u in users.items()}
        assert [entry["locale"] for entry in report["by_locale"]] == ["en"]
    finally:
        stopped = client.patch(
            f"/experiments/{experiment_id}", json={"status": "stopped"}, headers=auth()
        )
        assert stopped.status_code == 200, stopped.text


def test_the_report_of_an_unknown_experiment_is_a_404(client: TestClient) -> None:
    response = client.get("/experiments/no-such-experiment/report", headers=auth())
    assert response.status_code == 404
