"""docker-compose.yml: valid against the Compose Specification's JSON Schema, and wired as the README says."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import pytest
import yaml

from tests.deploy.conftest import ALL_SERVICES, setting_names
from trellis.manifests.layout import ROOT

COMPOSE = ROOT / "docker-compose.yml"
SCHEMA = ROOT / "deploy" / "compose" / "compose-spec.json"
HOST_PORTS = {
    "surveys": 8001,
    "skills": 8002,
    "matchmaking": 8003,
    "strategy": 8004,
    "notifications": 8005,
    "ingress": 8006,
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def test_compose_file_validates_against_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text())
    errors = [
        f"{'.'.join(str(p) for p in error.absolute_path)}: {error.message}"
        for error in jsonschema.Draft201909Validator(schema).iter_errors(compose)
    ]
    assert not errors, "\n".join(errors)


def test_the_schema_refuses_a_misspelt_key() -> None:
    schema = json.loads(SCHEMA.read_text())
    broken = {"services": {"app": {"image": "x", "depends_on": {"db": {"condition": "healthy"}}}}}
    assert list(jsonschema.Draft201909Validator(schema).iter_errors(broken))


def test_each_service_environment_names_only_its_settings(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        command = service.get("command", [])
        if not command or not command[0].startswith("trellis-"):
            continue
        owner = command[0].removeprefix("trellis-")
        unknown = sorted(
            key
            for key in service.get("environment", {})
            if key.startswith("TRELLIS_") and key not in setting_names(owner)
        )
        assert not unknown, f"{name}: {owner} has no settings {unknown}"


def test_every_service_is_served_after_topics_and_its_migration(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["topics"]["command"] == ["trellis", "topics", "create"]
    assert services["kafka"]["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert "broker,controller" in services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"]  # KRaft, no ZooKeeper
    for name in ALL_SERVICES:
        service = services[name]
        assert service["command"] == [f"trellis-{name}", "serve"]
        migrate = services[f"{name}-migrate"]
        assert migrate["command"] == [f"trellis-{name}", "migrate"]
        depends = service["depends_on"]
        assert depends[f"{name}-migrate"]["condition"] == "service_completed_successfully"
        assert depends["topics"]["condition"] == "service_completed_successfully"
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["kafka"]["condition"] == "service_healthy"
        assert "/readyz" in " ".join(service["healthcheck"]["test"])
        assert service["environment"]["TRELLIS_MIGRATE_ON_START"] == "false"
        assert service["ports"] == [f"{HOST_PORTS[name]}:8000"]
        assert service["environment"]["TRELLIS_DATABASE_URL"].endswith(f"@postgres:5432/{name}")
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"]


def test_the_console_calls_the_services_inside_the_network_and_keeps_no_data(compose: dict[str, Any]) -> None:
    console = compose["services"]["console"]
    assert console["command"] == ["trellis-console", "serve"]
    environment = console["environment"]
    for name in ("surveys", "skills", "matchmaking", "strategy", "notifications"):
        assert environment[f"TRELLIS_CONSOLE_{name.upper()}_URL"] == f"http://{name}:8000"
    assert not any("DATABASE" in key for key in environment) and "console-migrate" not in compose["services"]
    assert console["read_only"] is True and console["cap_drop"] == ["ALL"]
    assert re.fullmatch(r"\$\{TRELLIS_CONSOLE_SESSION_SECRET:\?[^}]+\}", environment["TRELLIS_CONSOLE_SESSION_SECRET"])


def test_secrets_come_from_the_users_shell(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, variable in (
        ("surveys", "TRELLIS_SURVEY_LINK_SECRET"),
        ("matchmaking", "TRELLIS_REPLY_LINK_SECRET"),
        ("notifications", "TRELLIS_UNSUBSCRIBE_SECRET"),
    ):
        assert re.fullmatch(r"\$\{" + variable + r":\?[^}]+\}", services[name]["environment"][variable])


def test_every_service_database_is_created() -> None:
    created = set(re.findall(r"CREATE DATABASE (\w+);", (ROOT / "deploy/compose/create-databases.sql").read_text()))
    assert created == set(ALL_SERVICES)


def test_prometheus_scrapes_every_service(compose: dict[str, Any]) -> None:
    prometheus = compose["services"]["prometheus"]
    assert re.fullmatch(r"prom/prometheus:v\d+\.\d+\.\d+", prometheus["image"])
    config = yaml.safe_load((ROOT / "deploy/compose/prometheus.yml").read_text())
    targets = {t for job in config["scrape_configs"] for group in job["static_configs"] for t in group["targets"]}
    assert targets == {f"{name}:8000" for name in ALL_SERVICES}
    assert all(job.get("metrics_path", "/metrics") == "/metrics" for job in config["scrape_configs"])


def test_images_are_pinned(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        image = service.get("image", "")
        if image == "trellis:local":
            continue
        assert ":" in image and not image.endswith(":latest"), f"{name}: unpinned image {image!r}"
