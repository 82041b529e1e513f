"""A service started outside dev with a default or missing secret, or without its database, refuses to start and
says which variable; migrating needs the database alone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CASES = [
    ("surveys", {}, "TRELLIS_SURVEY_LINK_SECRET"),
    ("notifications", {}, "TRELLIS_UNSUBSCRIBE_SECRET"),
    ("matchmaking", {}, "TRELLIS_REPLY_LINK_SECRET"),
    ("surveys", {"TRELLIS_SURVEY_LINK_SECRET": "dev-only-survey-link-secret"}, "TRELLIS_SURVEY_LINK_SECRET"),
    ("ingress", {"TRELLIS_AUTH_ISSUER": ""}, "TRELLIS_AUTH_ISSUER"),
    ("skills", {}, "TRELLIS_DATABASE_URL"),  # never a quiet ./trellis.db of its own outside dev
]


@pytest.mark.parametrize(("service", "extra", "variable"), CASES, ids=[f"{c[0]}-{c[2]}" for c in CASES])
def test_serve_exits_with_a_message_naming_the_variable(service: str, extra: dict[str, str], variable: str) -> None:
    database = {} if variable == "TRELLIS_DATABASE_URL" else {"TRELLIS_DATABASE_URL": "postgresql+asyncpg://h/db"}
    done = _run(service, "serve", database | extra)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert variable.removeprefix("TRELLIS_").lower() in done.stderr.lower(), done.stderr
    assert "Traceback" not in done.stderr, "a clear message, not a stack trace"


def test_migrate_needs_the_database_alone(tmp_path: Path) -> None:
    """No issuer, no Kafka, no secrets: the ingress (which refuses to serve without an issuer) migrates."""
    database = f"sqlite+aiosqlite:///{tmp_path / 'ingress.db'}"
    done = _run("ingress", "migrate", {"TRELLIS_DATABASE_URL": database})
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "ingress: migrations applied" in done.stdout
    assert (tmp_path / "ingress.db").stat().st_size > 0
    missing = _run("ingress", "migrate", {})
    assert missing.returncode == 2, (missing.stdout, missing.stderr)
    assert missing.stderr.strip().splitlines() == [
        "ingress: TRELLIS_DATABASE_URL must be set outside environment=dev (postgresql+asyncpg://user:password@host"
        "/db, one database per service)"
    ]
    unreachable = _run("ingress", "migrate", {"TRELLIS_DATABASE_URL": "postgresql+asyncpg://u:p@127.0.0.1:1/db"})
    assert unreachable.returncode == 1 and len(unreachable.stderr.strip().splitlines()) == 1, unreachable.stderr
    assert unreachable.stderr.startswith("ingress migrate: ") and "Traceback" not in unreachable.stderr


def _run(service: str, command: str, extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRELLIS_")}
    env.update({"TRELLIS_ENVIRONMENT": "prod", **extra})
    return subprocess.run(
        [sys.executable, "-m", f"trellis_{service}", command],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
