"""Shared fixtures: the real PostgreSQL and Kafka that ``scripts/infra up`` starts, and a real SMTP server.

Tests that need the infrastructure never skip: without it they error, and ``TRELLIS_REQUIRE_INFRA=1``
(set by ``scripts/test``) also fails the run when no Kafka or PostgreSQL test executed.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager

import asyncpg
import pytest
from hypothesis import settings

from trellis.mailsink import MailSink
from trellis_common.topics import create_topics

INFRA_FIXTURES = {"kafka_bootstrap": "kafka", "pg_admin_url": "postgres"}

# Property tests check what the code does, not how fast: an example's time follows the machine's load (two test
# workers beside Kafka and PostgreSQL on two cores), so a per-example deadline only made them fail now and then.
# Speed is measured by the benchmarks.
settings.register_profile("trellis", deadline=None)
settings.load_profile("trellis")


def _required(variable: str) -> str:
    value = os.environ.get(variable)
    if not value:
        pytest.fail(f"{variable} is not set: run the suite with scripts/test, which starts Kafka and PostgreSQL")
    return value


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    return _required("TRELLIS_TEST_KAFKA_BOOTSTRAP")


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    return _required("TRELLIS_TEST_DATABASE_URL")


def asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


NewDatabase = Callable[[str], Awaitable[str]]


@asynccontextmanager
async def databases(pg_admin_url: str) -> AsyncIterator[NewDatabase]:
    """Creates empty databases (one per service, as in production) and drops them on leaving."""
    created: list[str] = []
    base, _, _admin_db = pg_admin_url.rpartition("/")

    async def make(service: str) -> str:
        name = f"t_{service}_{uuid.uuid4().hex[:10]}"
        conn = await asyncpg.connect(asyncpg_dsn(pg_admin_url))
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        created.append(name)
        return f"{base}/{name}"

    try:
        yield make
    finally:
        conn = await asyncpg.connect(asyncpg_dsn(pg_admin_url))
        try:
            for name in created:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


@pytest.fixture
async def new_database(pg_admin_url: str) -> AsyncIterator[NewDatabase]:
    async with databases(pg_admin_url) as make:
        yield make


@pytest.fixture
async def topic_prefix(kafka_bootstrap: str) -> str:
    """A fresh set of the catalogue's topics (and DLQs) under a unique prefix, so tests never share offsets."""
    prefix = f"t{uuid.uuid4().hex[:8]}."
    await create_topics(kafka_bootstrap, prefix, partitions=2)
    return prefix


@pytest.fixture
def smtp_sink() -> Iterator[MailSink]:
    sink = MailSink()
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--chaos", action="store_true", help="include the short chaos run (tests/chaos), as CI does")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The chaos run takes minutes and starts a broker and a PostgreSQL of its own: only when asked for (--chaos,
    # or -m chaos).
    if not config.getoption("--chaos") and "chaos" not in (config.option.markexpr or ""):
        chaos = [item for item in items if item.get_closest_marker("chaos")]
        if chaos:
            config.hook.pytest_deselected(items=chaos)
            items[:] = [item for item in items if not item.get_closest_marker("chaos")]
    for item in items:
        for fixture, marker in INFRA_FIXTURES.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(getattr(pytest.mark, marker))


_infra_outcomes: dict[str, list[str]] = {"kafka": [], "postgres": []}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        for marker in _infra_outcomes:
            if marker in report.keywords:
                _infra_outcomes[marker].append(report.outcome)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # With workers (pytest -n), the controller sees every worker's reports and judges; a worker sees only its own.
    if os.environ.get("TRELLIS_REQUIRE_INFRA") != "1" or hasattr(session.config, "workerinput"):
        return
    problems = []
    for marker, outcomes in _infra_outcomes.items():
        if "passed" not in outcomes:
            problems.append(f"no {marker} test passed")
        if "skipped" in outcomes:
            problems.append(f"{outcomes.count('skipped')} {marker} test(s) skipped")
    if problems:
        session.config.pluginmanager.get_plugin("terminalreporter").write_line(  # type: ignore[union-attr]
            "TRELLIS_REQUIRE_INFRA: " + "; ".join(problems), red=True
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
