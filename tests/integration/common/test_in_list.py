"""``in_list`` on both databases: the rows of the values given at each call, even when the statement comes from
SQLAlchemy's cache (PostgreSQL gets one array parameter whatever the list's length, SQLite a plain IN)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import BigInteger, Column, MetaData, String, Table, delete, select

from tests.conftest import NewDatabase
from trellis_common.db import Database
from trellis_common.repositories.in_list import in_list

_METADATA = MetaData()
_ROWS = Table("in_list_rows", _METADATA, Column("id", String(64), primary_key=True), Column("n", BigInteger))


async def _exercise(database: Database) -> None:
    async with database.engine.begin() as conn:
        await conn.run_sync(_METADATA.create_all)
        await conn.execute(_ROWS.insert(), [{"id": f"k{i}", "n": i} for i in range(10)])
    async with database.engine.connect() as conn:

        async def ids(condition) -> list[str]:  # type: ignore[no-untyped-def]
            return list((await conn.execute(select(_ROWS.c.id).where(condition).order_by(_ROWS.c.id))).scalars())

        # The same statement shape, one call after another: each returns the rows of its own values.
        assert await ids(in_list(_ROWS.c.id, ["k1", "k2"])) == ["k1", "k2"]
        assert await ids(in_list(_ROWS.c.id, ["k3"])) == ["k3"]
        assert await ids(in_list(_ROWS.c.id, ["k6", "k4", "k5", "nobody"])) == ["k4", "k5", "k6"]
        assert await ids(in_list(_ROWS.c.id, [])) == []
        assert await ids(in_list(_ROWS.c.n, [7, 8])) == ["k7", "k8"]
        assert await ids(~in_list(_ROWS.c.id, [f"k{i}" for i in range(8)])) == ["k8", "k9"]
        await conn.execute(delete(_ROWS).where(in_list(_ROWS.c.id, ["k0", "k9"])))
        assert await ids(in_list(_ROWS.c.n, range(10))) == [f"k{i}" for i in range(1, 9)]


@pytest.mark.postgres
async def test_in_list_on_postgresql(new_database: NewDatabase) -> None:
    database = Database(await new_database("inlist"))
    try:
        await _exercise(database)
    finally:
        await database.dispose()


async def test_in_list_on_sqlite(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'in_list.db'}")
    try:
        await _exercise(database)
    finally:
        await database.dispose()
