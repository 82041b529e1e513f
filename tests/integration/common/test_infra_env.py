"""``scripts/infra env`` gives a person what they need to run the services on the local infrastructure: the broker
for every ``trellis`` command, and a database per service, already created."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg

from tests.conftest import asyncpg_dsn

ROOT = Path(__file__).resolve().parents[3]
SERVICES = ("surveys", "skills", "matchmaking", "strategy", "notifications", "ingress")


def _printed() -> str:
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "infra"), "env"], capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout


def test_the_printed_broker_is_the_one_trellis_commands_use(kafka_bootstrap: str) -> None:
    exports = dict(re.findall(r"^export (\w+)=(\S+)$", _printed(), re.MULTILINE))
    assert exports["TRELLIS_KAFKA_BOOTSTRAP_SERVERS"] == kafka_bootstrap
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRELLIS_")} | exports
    prefix = f"t{uuid.uuid4().hex[:8]}."
    created = subprocess.run(
        [str(Path(sys.executable).parent / "trellis"), "topics", "create", "--prefix", prefix],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    assert created.stdout.startswith("created "), created.stdout


async def test_each_service_has_its_database_as_the_printed_example_names_it(pg_admin_url: str) -> None:
    example = re.search(r"TRELLIS_DATABASE_URL=(\S+)/surveys trellis-surveys migrate", _printed())
    assert example is not None
    for service in SERVICES:
        connection = await asyncpg.connect(asyncpg_dsn(f"{example.group(1)}/{service}"))
        try:
            assert await connection.fetchval("SELECT current_database()") == service
        finally:
            await connection.close()
    assert pg_admin_url.startswith(f"{example.group(1)}/"), "the same server as the tests'"
