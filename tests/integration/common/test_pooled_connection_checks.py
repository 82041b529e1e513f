"""A pooled PostgreSQL connection that died while it waited is replaced before use; one used just now is not pinged.

The server ends the pooled connection's session (as a restart, or a firewall dropping an idle connection, would).
"""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.conftest import NewDatabase, asyncpg_dsn
from trellis_common import db as db_module
from trellis_common.db import Database

pytestmark = pytest.mark.postgres


async def _backend_pid(database: Database) -> int:
    async with database.transaction() as session:
        return int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def _terminate(pg_admin_url: str, pid: int) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(pg_admin_url))
    try:
        assert await conn.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await conn.close()


async def test_a_connection_that_died_while_idle_is_replaced_before_use(
    new_database: NewDatabase, pg_admin_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_S", 0.0)  # every returned connection counts as having waited
    database = Database(await new_database("pool"), pool_size=1)
    try:
        dead = await _backend_pid(database)
        await _terminate(pg_admin_url, dead)
        # The checkout's ping finds the connection dead and the pool hands out a new one: no error reaches us.
        assert await _backend_pid(database) != dead
    finally:
        await database.dispose()


async def test_a_connection_used_just_now_is_not_pinged(
    new_database: NewDatabase, pg_admin_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_S", 3600.0)
    database = Database(await new_database("pool"), pool_size=1)
    try:
        dead = await _backend_pid(database)
        await _terminate(pg_admin_url, dead)
        # Not pinged, so the dead connection is used and fails (a transient error the callers try again)...
        with pytest.raises(DBAPIError) as failure:
            await _backend_pid(database)
        assert failure.value.connection_invalidated
        # ...and the pool has dropped it: the next transaction runs on a new connection.
        assert await _backend_pid(database) != dead
    finally:
        await database.dispose()
