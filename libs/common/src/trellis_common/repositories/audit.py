"""The audit log: recording a change made through a service's API, and reading the log back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.db import audit_log


async def record_change(
    session: AsyncSession,
    *,
    at: datetime,
    actor: str,
    roles: str,
    method: str,
    path: str,
    status: int,
    correlation_id: str | None,
) -> None:
    await session.execute(
        audit_log.insert().values(
            at=at, actor=actor, roles=roles, method=method, path=path, status=status, correlation_id=correlation_id
        )
    )


async def audit_entries(
    session: AsyncSession, *, actor: str | None, since: datetime | None, limit: int, offset: int
) -> list[dict[str, Any]]:
    """The newest entries first, of one actor and from ``since`` on when given."""
    query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit).offset(offset)
    if actor is not None:
        query = query.where(audit_log.c.actor == actor)
    if since is not None:
        query = query.where(audit_log.c.at >= since)
    return [dict(row) for row in (await session.execute(query)).mappings()]
