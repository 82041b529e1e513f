"""The secret of each cluster's review calendar feed (its SHA-256, never the token)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.auth import Scope
from trellis_common.db import insert_for
from trellis_strategy.models import calendar_feeds
from trellis_strategy.repositories.shared import require_scope


async def set_feed_token(
    session: AsyncSession, scope: Scope, cluster_id: str, token_sha256: str, now: datetime
) -> None:
    require_scope(scope, cluster_id)
    stmt = insert_for(session, calendar_feeds).values(cluster_id=cluster_id, token_sha256=token_sha256, created_at=now)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["cluster_id"],
            set_={"token_sha256": stmt.excluded.token_sha256, "created_at": stmt.excluded.created_at},
        )
    )


async def revoke_feed_token(session: AsyncSession, scope: Scope, cluster_id: str) -> bool:
    result = await session.execute(
        delete(calendar_feeds).where(
            calendar_feeds.c.cluster_id == cluster_id, scope.clause(calendar_feeds.c.cluster_id)
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def feed_token_sha256(session: AsyncSession, scope: Scope, cluster_id: str) -> str | None:
    value = await session.scalar(
        select(calendar_feeds.c.token_sha256).where(
            calendar_feeds.c.cluster_id == cluster_id, scope.clause(calendar_feeds.c.cluster_id)
        )
    )
    return str(value) if value is not None else None
