"""Parked events (``trellis_common.parking``): their table on a service's own metadata and every statement on
it, parking an event, the ones waiting for a member, releasing or keeping them, and the operators' listing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, MetaData, RowMapping, String, Table, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.db import BigIntId, UTCDateTime, insert_for

PARKED_EVENTS = "parked_events"
# The lock that makes parking an event and its member's arrival take turns (any number below 2**63 that no other
# advisory lock of the service's database uses; migrations use their own).
_PARKING_LOCK = 7_204_118_530_919_457_001


async def take_turn(session: AsyncSession) -> None:
    """Until this transaction ends, no other parks an event or applies a member's arrival (PostgreSQL).

    Without it two replicas race: one reads that a member is unknown and parks its response while another,
    applying the member's arrival, looks for that member's parked events before the first has committed; the
    response then waits for an arrival that has already happened. SQLite has one writer at a time anyway."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(func.pg_advisory_xact_lock(_PARKING_LOCK)))


def parked_events_table(metadata: MetaData) -> Table:
    """The parked events on a service's own metadata (created by ``migrations.create_parked_events_table``)."""
    return Table(
        PARKED_EVENTS,
        metadata,
        Column("id", BigIntId, primary_key=True, autoincrement=True),  # parking order is release order
        Column("event_id", String(64), nullable=False, unique=True),
        Column("event_type", String(200), nullable=False),
        Column("cluster_id", String(128), nullable=False),
        Column("member_id", String(128), nullable=False, index=True),
        Column("key", String(256), nullable=True),
        Column("envelope", JSON, nullable=False),
        Column("reason", String(1000), nullable=False),
        Column("parked_at", UTCDateTime, nullable=False),
    )


async def park(
    session: AsyncSession,
    table: Table,
    *,
    event_id: str,
    event_type: str,
    cluster_id: str,
    member_id: str,
    key: str | None,
    envelope: dict[str, Any],
    reason: str,
    parked_at: datetime,
) -> None:
    """Park an event; one parked already (a redelivery) stays as it is."""
    stmt = insert_for(session, table).values(
        event_id=event_id,
        event_type=event_type,
        cluster_id=cluster_id,
        member_id=member_id,
        key=key,
        envelope=envelope,
        reason=reason,
        parked_at=parked_at,
    )
    await session.execute(stmt.on_conflict_do_nothing(index_elements=["event_id"]))


async def waiting_for(session: AsyncSession, table: Table, member_id: str) -> Sequence[RowMapping]:
    """The events parked for ``member_id``, in the order they were parked."""
    return (
        (await session.execute(select(table).where(table.c.member_id == member_id).order_by(table.c.id)))
        .mappings()
        .all()
    )


async def remove(session: AsyncSession, table: Table, row_id: int) -> None:
    await session.execute(delete(table).where(table.c.id == row_id))


async def set_reason(session: AsyncSession, table: Table, row_id: int, reason: str) -> None:
    await session.execute(update(table).where(table.c.id == row_id).values(reason=reason))


async def page(
    session: AsyncSession, table: Table, *, cluster_id: str | None, limit: int, offset: int
) -> list[dict[str, object]]:
    """What waits for its member, oldest first (of one cluster, when given)."""
    query = (
        select(
            table.c.event_id,
            table.c.event_type,
            table.c.cluster_id,
            table.c.member_id,
            table.c.reason,
            table.c.parked_at,
        )
        .order_by(table.c.id)
        .limit(limit)
        .offset(offset)
    )
    if cluster_id is not None:
        query = query.where(table.c.cluster_id == cluster_id)
    return [dict(row) for row in (await session.execute(query)).mappings()]
