"""The settings reference says which settings are required, and the services agree: started outside dev with
exactly the settings it marks required, each service (and the console) starts; without any one of them, it
refuses and names that variable."""

from __future__ import annotations

import os
from typing import Any

import pytest
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from trellis.embedded import SERVICES
from trellis.settings_doc import required
from trellis_console.settings import ConsoleSettings

VALUES = {
    "database_url": "postgresql+asyncpg://trellis@db.example.org/service",
    "auth_issuer": "https://id.example.org/realms/trellis",
}
SECRET = "s3cr3t-" * 6  # 42 characters
CLASSES: dict[str, tuple[type[BaseSettings], str]] = {
    **{d.name: (d.settings_class, "TRELLIS_") for d in SERVICES},
    "console": (ConsoleSettings, "TRELLIS_CONSOLE_"),
}


def marked(cls: type[BaseSettings]) -> dict[str, Any]:
    """The settings the reference marks required outside dev (or always), with a valid value each."""
    return {name: VALUES.get(name, SECRET) for name, field in cls.model_fields.items() if required(field)}


@pytest.mark.parametrize("service", sorted(CLASSES))
def test_a_service_starts_outside_dev_with_the_required_settings_alone(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cls, prefix = CLASSES[service]
    for variable in [v for v in os.environ if v.startswith("TRELLIS_")]:
        monkeypatch.delenv(variable)
    needed = marked(cls)
    assert needed, f"{service} marks no setting required"
    assert cls(environment="prod", **needed)
    for name in needed:
        with pytest.raises(ValidationError) as refused:
            cls(environment="prod", **{k: v for k, v in needed.items() if k != name})
        assert f"{prefix}{name.upper()}" in str(refused.value), (service, name, str(refused.value))
