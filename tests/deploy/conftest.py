"""Shared helpers of the deployment checks: rendering the kustomize overlays and the services' settings."""

from __future__ import annotations

import importlib
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.generate import K8S, ROOT, SERVICES
from trellis_common.settings import ServiceSettings

OVERLAYS = ("dev", "prod")


def kubectl() -> str:
    found = shutil.which("kubectl")
    if found is None:
        pytest.fail("kubectl is not installed: the deployment checks render the manifests with `kubectl kustomize`")
    return found


def render(path: Path) -> list[dict[str, Any]]:
    result = subprocess.run([kubectl(), "kustomize", str(path)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.fail(f"`kubectl kustomize {path.relative_to(ROOT)}` failed:\n{result.stderr}")
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
    """The environment variables a service reads: TRELLIS_ + each settings field, upper-cased."""
    return {f"TRELLIS_{name.upper()}" for name in settings_class(service).model_fields}


ALL_SERVICES = SERVICES
