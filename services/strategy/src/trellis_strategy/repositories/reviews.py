"""Review records: what each review held, decided and snapshotted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.auth import Scope
from trellis_common.repositories.pages import page_of
from trellis_strategy.models import reviews
from trellis_strategy.repositories.shared import from_row, require_scope


@dataclass(frozen=True)
class Review:
    id: str
    strategy_id: str
    cluster_id: str
    held_at: datetime
    recorded_at: datetime
    closed_due_at: datetime
    next_due_at: datetime
    phase: str
    notes: str | None
    decisions: list[str]
    kpi_snapshot: list[dict[str, Any]]
    actions_reviewed: int


async def insert_review(session: AsyncSession, scope: Scope, review: Review) -> None:
    require_scope(scope, review.cluster_id)
    await session.execute(reviews.insert().values(**review.__dict__))


async def list_reviews(
    session: AsyncSession, scope: Scope, strategy_id: str, *, limit: int, offset: int
) -> tuple[list[Review], int]:
    where = (reviews.c.strategy_id == strategy_id, scope.clause(reviews.c.cluster_id))
    query = select(reviews).where(*where).order_by(reviews.c.held_at.desc(), reviews.c.id)
    rows, total = await page_of(session, query, limit=limit, offset=offset)
    return [from_row(Review, row) for row in rows], total


async def last_review(session: AsyncSession, scope: Scope, strategy_id: str) -> Review | None:
    items, _total = await list_reviews(session, scope, strategy_id, limit=1, offset=0)
    return items[0] if items else None
