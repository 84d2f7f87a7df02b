"""docker-compose.yml against the Compose Specification schema (no Docker engine needed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "deploy" / "compose-spec.json").read_text(encoding="utf-8"))


@pytest.fixture
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text("utf-8"))
    return data


def _errors(document: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft201909Validator(SCHEMA)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


def test_docker_compose_file_is_valid_against_the_compose_specification(
    compose: dict[str, Any],
) -> None:
    assert _errors(compose) == []


def test_the_schema_check_catches_a_misspelt_service_key(compose: dict[str, Any]) -> None:
    compose["services"]["redis"]["helthcheck"] = compose["services"]["redis"].pop("healthcheck")
    assert any("helthcheck" in error for error in _errors(compose))


def test_every_service_has_a_healthcheck_and_state_lives_in_named_volumes(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    assert set(services) == {"elasticsearch", "redis", "postgres", "api", "worker"}
    assert all("healthcheck" in service for service in services.values())
    assert "--appendonly" in services["redis"]["command"]
    [device] = services["worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert device["capabilities"] == ["gpu"]
    for service in services.values():
        for volume in service.get("volumes", []):
            name = volume.split(":", 1)[0]
            assert name in compose["volumes"], f"{name} is not a named volume"


def test_elasticsearch_image_installs_the_plugins_the_template_uses() -> None:
    from search.recall.elastic.bodies import ANALYSIS_PLUGINS

    dockerfile = (ROOT / "deploy" / "elasticsearch" / "Dockerfile").read_text(encoding="utf-8")
    assert all(plugin in dockerfile for plugin in ANALYSIS_PLUGINS)
