"""Shared helpers of the deployment checks: rendering the kustomize overlays and the services' settings."""

from __future__ import annotations

import importlib
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from trellis.manifests.apps import SERVICES
from trellis.manifests.layout import K8S, ROOT
from trellis_common.catalogue import CATALOGUE, EventSpec, spec_for_type
from trellis_common.settings import ServiceSettings
from trellis_console.settings import ConsoleSettings

OVERLAYS = ("dev", "prod")


def kubectl() -> str:
    found = shutil.which("kubectl")
    if found is None:
        pytest.fail("kubectl is not installed: the deployment checks render the manifests with `kubectl kustomize`")
    return found


def render(path: Path) -> list[dict[str, Any]]:
    result = subprocess.run([kubectl(), "kustomize", str(path)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        pytest.fail(f"`kubectl kustomize {shown}` failed:\n{result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[dict[str, Any]]]:
    """Every overlay's objects, as `kubectl kustomize` renders them."""
    return {overlay: render(K8S / "overlays" / overlay) for overlay in OVERLAYS}


def settings_class(service: str) -> type[ServiceSettings]:
    module = importlib.import_module(f"trellis_{service}.service")
    found: type[ServiceSettings] = module.DEFINITION.settings_class
    return found


def setting_names(service: str) -> set[str]:
    """The environment variables a service reads: TRELLIS_ + each settings field, upper-cased (the console, which
    has no service definition, reads TRELLIS_CONSOLE_*)."""
    if service == "console":
        return {f"TRELLIS_CONSOLE_{name.upper()}" for name in ConsoleSettings.model_fields}
    return {f"TRELLIS_{name.upper()}" for name in settings_class(service).model_fields}


def read_settings(service: str) -> BaseSettings:
    """A process's settings as it reads them from its environment at start (the console's have no service name)."""
    if service == "console":
        return ConsoleSettings()
    return settings_class(service)(service_name=service)


ALL_SERVICES = SERVICES


def consumed(service: str) -> list[EventSpec]:
    handlers = importlib.import_module(f"trellis_{service}.service").DEFINITION.consumed_types
    specs = [spec_for_type(event_type) for event_type in handlers]
    assert all(spec is not None for spec in specs), f"{service} handles a type the catalogue lacks"
    return [spec for spec in specs if spec is not None]


def scaled_by_lag(service: str) -> list[EventSpec]:
    """What a service's replicas scale with: the topics it consumes, unless it only keeps a projection from them
    (then it scales with its HTTP load, like a service that consumes nothing)."""
    definition = importlib.import_module(f"trellis_{service}.service").DEFINITION
    return [] if definition.projection_only else consumed(service)


def published(service: str) -> list[EventSpec]:
    return [spec for spec in CATALOGUE if spec.service == service or (service == "ingress" and spec.ingress)]


Right = tuple[str, str, str]


def wanted_rights(service: str, prefix: str = "") -> set[Right]:
    """(resource type, name, operation) a service's KafkaUser needs: read what it consumes in its own group,
    write what it publishes and the dead-letter topics of what it consumes. Nothing else."""
    wanted: set[Right] = set()
    for spec in consumed(service):
        wanted |= {("topic", spec.topic(prefix), "Read"), ("topic", spec.topic(prefix), "Describe")}
        wanted |= {("topic", spec.dlq_topic(prefix), "Write"), ("topic", spec.dlq_topic(prefix), "Describe")}
    if consumed(service):
        wanted.add(("group", f"{prefix}trellis-{service}", "Read"))
    for spec in published(service):
        wanted |= {("topic", spec.topic(prefix), "Write"), ("topic", spec.topic(prefix), "Describe")}
    return wanted


def granted_rights(user: dict[str, Any]) -> set[Right]:
    """The allow rules of a rendered KafkaUser, one triple per operation; a wildcard or deny rule fails."""
    granted: set[Right] = set()
    for rule in user["spec"]["authorization"]["acls"]:
        resource = rule["resource"]
        assert resource.get("patternType", "literal") == "literal", f"{user['metadata']['name']}: wildcard {resource}"
        assert rule.get("type", "allow") == "allow", f"{user['metadata']['name']}: deny rule {rule}"
        granted |= {(resource["type"], resource["name"], op) for op in rule["operations"]}
    return granted
