"""Secrets from files (Kubernetes Secret mounts): named like the variables, environment variables win."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from trellis_common.settings import MigrationSettings, ServiceSettings
from trellis_surveys.settings import SurveysSettings

SECRET = "s3cret-" * 6


def test_settings_are_read_from_secret_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "TRELLIS_SURVEY_LINK_SECRET").write_text(SECRET + "\n")  # as `echo` or an editor writes it
    (tmp_path / "TRELLIS_DATABASE_URL").write_text("postgresql+asyncpg://surveys:pw@db/surveys")
    monkeypatch.setenv("TRELLIS_SECRETS_DIR", str(tmp_path))
    monkeypatch.setenv("TRELLIS_ENVIRONMENT", "prod")
    settings = SurveysSettings()
    assert settings.survey_link_secret.get_secret_value() == SECRET
    assert settings.database_url == "postgresql+asyncpg://surveys:pw@db/surveys"


def test_an_environment_variable_wins_over_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "TRELLIS_DATABASE_URL").write_text("postgresql+asyncpg://from-file/db")
    monkeypatch.setenv("TRELLIS_SECRETS_DIR", str(tmp_path))
    monkeypatch.setenv("TRELLIS_DATABASE_URL", "postgresql+asyncpg://from-env/db")
    assert ServiceSettings().database_url == "postgresql+asyncpg://from-env/db"


def test_a_missing_secrets_directory_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRELLIS_SECRETS_DIR", str(tmp_path / "not-mounted"))
    with pytest.raises(ValueError, match="not a directory"):
        ServiceSettings()


def test_outside_dev_the_default_secret_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRELLIS_SECRETS_DIR", str(tmp_path))  # mounted, but the key is missing
    monkeypatch.setenv("TRELLIS_ENVIRONMENT", "prod")
    monkeypatch.setenv("TRELLIS_DATABASE_URL", "postgresql+asyncpg://db/surveys")
    with pytest.raises(ValidationError, match="TRELLIS_SURVEY_LINK_SECRET"):
        SurveysSettings()


def test_outside_dev_the_database_is_named_and_migrating_needs_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRELLIS_ENVIRONMENT", "prod")
    with pytest.raises(ValidationError, match="TRELLIS_DATABASE_URL must be set outside environment=dev"):
        MigrationSettings()
    with pytest.raises(ValidationError, match="TRELLIS_DATABASE_URL must be set outside environment=dev"):
        ServiceSettings()
    (tmp_path / "TRELLIS_DATABASE_URL").write_text("postgresql+asyncpg://db/surveys")  # a mounted Secret
    monkeypatch.setenv("TRELLIS_SECRETS_DIR", str(tmp_path))
    assert MigrationSettings().database_url == "postgresql+asyncpg://db/surveys", "no secret, no Kafka asked for"
    monkeypatch.setenv("TRELLIS_ENVIRONMENT", "dev")
    monkeypatch.delenv("TRELLIS_SECRETS_DIR")
    assert MigrationSettings().database_url.startswith("sqlite+aiosqlite:"), "dev keeps its local file"
