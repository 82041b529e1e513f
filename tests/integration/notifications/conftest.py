"""Fixtures of the notifications integration tests: a real SMTP server and the service on SQLite and on
PostgreSQL (production: SKIP LOCKED, ON CONFLICT)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.conftest import NewDatabase
from tests.integration.notifications.harness import Harness, SmtpServer, running_service


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every scenario runs on SQLite (embedded mode) and on PostgreSQL (production)."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/notifications.db"
    url = request.getfixturevalue("postgres_database")
    assert isinstance(url, str)
    return url


@pytest.fixture
async def postgres_database(new_database: NewDatabase) -> str:
    return await new_database("notifications")


@pytest.fixture
async def service(database_url: str, smtp: SmtpServer) -> AsyncIterator[Harness]:
    async with running_service(database_url, smtp) as harness:
        yield harness
