"""Schedule fires: the unique ``(schedule_key, due_at)`` row that makes a due time fire once across replicas."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.db import insert_for, schedule_fires


async def claim_fire(
    session: AsyncSession, schedule_key: str, due_at: datetime, fired_at: datetime, *, late: bool, note: str = ""
) -> bool:
    """True if this caller is the one that fires ``schedule_key`` for ``due_at`` (in this transaction)."""
    stmt = (
        insert_for(session, schedule_fires)
        .values(schedule_key=schedule_key, due_at=due_at, fired_at=fired_at, late=int(late), note=note or None)
        .on_conflict_do_nothing()
    )
    result = await session.execute(stmt)
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]
