"""The organisations' names projection on SQLite: newer states win, a tombstone drops the member's name."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from trellis_common.db import new_metadata
from trellis_common.events import MemberChanged, MemberContext
from trellis_common.repositories.names import NameTables, forget_member, name_tables, names_of, record_member

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def changed(name: str, at: datetime, cluster_name: str | None = "Danube Cluster") -> MemberChanged:
    return MemberChanged(
        cluster_id="c1", member_id="m1", name=name, cluster_name=cluster_name, context=MemberContext(), changed_at=at
    )


@pytest.fixture
async def projection(tmp_path: Path) -> AsyncIterator[tuple[AsyncSession, NameTables]]:
    metadata = new_metadata()
    tables = name_tables(metadata)
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'names.db'}")
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    async with async_sessionmaker(engine)() as session:
        yield session, tables
    await engine.dispose()


async def test_names_follow_the_newest_state(projection: tuple[AsyncSession, NameTables]) -> None:
    session, tables = projection
    await record_member(session, tables, changed("Huber GmbH", T0))
    await record_member(
        session, tables, changed("Huber Präzision GmbH", T0 + timedelta(hours=1), "Danube Mechatronics")
    )
    await record_member(session, tables, changed("Old name (a replay)", T0 - timedelta(days=1), "Old cluster name"))
    names = await names_of(session, tables, member_ids=["m1", "m2"], cluster_ids=["c1"])
    assert names.member("m1") == "Huber Präzision GmbH" and names.member("m2") is None
    assert names.cluster("c1") == "Danube Mechatronics"


async def test_an_event_without_a_cluster_name_keeps_the_known_one(projection: tuple[AsyncSession, NameTables]) -> None:
    session, tables = projection
    await record_member(session, tables, changed("Huber GmbH", T0))
    await record_member(session, tables, changed("Huber GmbH", T0 + timedelta(hours=1), cluster_name=None))
    assert (await names_of(session, tables, cluster_ids=["c1"])).cluster("c1") == "Danube Cluster"


async def test_a_tombstone_forgets_the_member_but_not_its_cluster(projection: tuple[AsyncSession, NameTables]) -> None:
    session, tables = projection
    await record_member(session, tables, changed("Huber GmbH", T0))
    await forget_member(session, tables, "m1")
    names = await names_of(session, tables, member_ids=["m1"], cluster_ids=["c1"])
    assert names.member("m1") is None and names.cluster("c1") == "Danube Cluster"
