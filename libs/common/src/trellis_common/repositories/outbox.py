"""The transactional outbox: writing the events a transaction emits, and what the relay reads and marks.

The relay's path is taken by every event of every service: one statement per step, for the whole batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.db import outbox
from trellis_common.repositories.in_list import in_list

_RELAY_LOCK_KEY = 0x7472656C6C6973  # "trellis": one lock per service database


async def enqueue(session: AsyncSession, rows: Sequence[dict[str, object]]) -> None:
    """Write the outbox rows of one or more units of work in one statement, in the caller's transaction."""
    await session.execute(outbox.insert(), rows)


async def take_relay_lock(session: AsyncSession) -> bool:
    """Whether this transaction is now the one relay publishing (PostgreSQL's transaction-scoped advisory lock,
    released on commit or rollback); another relay holding it answers False at once, without waiting."""
    return bool(await session.scalar(select(func.pg_try_advisory_xact_lock(_RELAY_LOCK_KEY))))


async def claim_unsent(session: AsyncSession, *, limit: int) -> Sequence[Row[*tuple[Any, ...]]]:
    """The oldest rows neither published nor set aside, locked for this transaction (rows another transaction
    holds are skipped)."""
    return (
        await session.execute(
            select(
                outbox.c.id,
                outbox.c.event_id,
                outbox.c.event_type,
                outbox.c.topic,
                outbox.c.key,
                outbox.c.headers,
                outbox.c.payload,
            )
            .where(outbox.c.sent_at.is_(None), outbox.c.failed_at.is_(None))
            .order_by(outbox.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()


async def mark_sent(session: AsyncSession, row_ids: Sequence[int], at: datetime) -> None:
    await session.execute(update(outbox).where(in_list(outbox.c.id, row_ids)).values(sent_at=at))


async def set_aside(session: AsyncSession, row_id: int, *, at: datetime, error: str) -> None:
    """Mark a row the broker refuses for good: the relay never reads it again, an operator looks at it."""
    await session.execute(update(outbox).where(outbox.c.id == row_id).values(failed_at=at, error=error))


async def backlog(session: AsyncSession) -> tuple[int, datetime | None]:
    """How many rows wait to be published, and when the oldest of them was written."""
    count, oldest = (
        await session.execute(
            select(func.count(), func.min(outbox.c.created_at)).where(
                outbox.c.sent_at.is_(None), outbox.c.failed_at.is_(None)
            )
        )
    ).one()
    return int(count), oldest


async def delete_sent_before(session: AsyncSession, cutoff: datetime) -> None:
    """Forget the rows published before ``cutoff`` (kept until then for operators)."""
    await session.execute(delete(outbox).where(outbox.c.sent_at < cutoff))
