"""Wake-ups across processes: the NOTIFY a transaction queues for the workers of every other process
(``trellis_common.wakeups`` listens for them)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.wakeups import CHANNEL


async def notify(session: AsyncSession, names: Iterable[str]) -> None:
    """Queue a NOTIFY per name in the session's transaction (PostgreSQL delivers it on commit, never before)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for name in sorted(set(names)):
        await session.execute(select(func.pg_notify(CHANNEL, name)))
