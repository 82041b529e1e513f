"""Replicas that start together on a fresh database each migrate on start: they take turns, and all come up.

Found by the chaos run (two replicas of every consumer started at once): one replica crashed on a duplicate
``alembic_version`` table. Each migration here is its own process, as each replica is, and they are released
together once all have loaded, so they do meet."""

from __future__ import annotations

import asyncio
import sys

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import NewDatabase

REPLICAS = 3
MIGRATE_ON_SIGNAL = """
import asyncio, sys
from trellis_common.migrations import upgrade
from trellis_strategy.service import DEFINITION
print("ready", flush=True)
sys.stdin.readline()
asyncio.run(upgrade(DEFINITION, sys.argv[1]))
"""


async def test_replicas_migrating_at_once_all_succeed(new_database: NewDatabase) -> None:
    url = await new_database("strategy")
    replicas = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            MIGRATE_ON_SIGNAL,
            url,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        for _ in range(REPLICAS)
    ]
    for replica in replicas:
        assert replica.stdout is not None
        assert await asyncio.wait_for(replica.stdout.readline(), timeout=60) == b"ready\n"
    for replica in replicas:  # all at once
        assert replica.stdin is not None
        replica.stdin.write(b"go\n")
    outcomes = await asyncio.gather(*(asyncio.wait_for(r.communicate(), timeout=120) for r in replicas))
    codes = [replica.returncode for replica in replicas]
    assert codes == [0] * REPLICAS, "\n".join(out.decode(errors="replace")[-1500:] for out, _ in outcomes)
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            versions = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
    finally:
        await engine.dispose()
    assert len(versions) == 1, versions
