"""Review schedules: each strategy's cadence and review clock, and the schedules whose reminders are due."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.auth import Scope
from trellis_common.db import insert_for
from trellis_common.events import ReminderKind
from trellis_common.repositories.in_list import in_list
from trellis_strategy.domain.reminders import AnchorMode, ReminderPolicy, ReviewClock, next_reminder_at
from trellis_strategy.domain.schedule import ScheduleFields
from trellis_strategy.domain.strategy import StrategyType
from trellis_strategy.models import review_schedules, strategies
from trellis_strategy.repositories.shared import NAMESPACE, from_row, lock_sqlite_for_writing, new_id, require_scope
from trellis_strategy.repositories.strategies import Strategy


def reminder_id(schedule_id: str, due_at: datetime, kind: ReminderKind, lead_days: int | None = None) -> str:
    """The same reminder (schedule, due time, kind, lead) has the same id wherever and however often it is built."""
    due = due_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    which = kind.value if lead_days is None else f"{kind.value}-{lead_days}d"
    return str(uuid.uuid5(NAMESPACE, f"review:{schedule_id}:{due}:{which}"))


@dataclass(frozen=True)
class Schedule:
    id: str
    cluster_id: str
    strategy_id: str
    cadence: str
    timezone: str
    anchor_at: datetime
    anchor_mode: str
    lead_days: list[int]
    escalate_after_days: int | None
    next_due_at: datetime
    reminded_through: datetime
    overdue_since: datetime | None
    missed_reviews: int
    escalated: bool
    next_reminder_at: datetime | None
    last_fired_due_at: datetime | None
    last_fired_at: datetime | None
    last_reviewed_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @property
    def clock(self) -> ReviewClock:
        return ReviewClock(
            self.next_due_at, self.reminded_through, self.overdue_since, self.missed_reviews, bool(self.escalated)
        )

    @property
    def policy(self) -> ReminderPolicy:
        return ReminderPolicy(tuple(self.lead_days), self.escalate_after_days)

    @property
    def mode(self) -> AnchorMode:
        return AnchorMode(self.anchor_mode)


async def get_schedule(session: AsyncSession, scope: Scope, cluster_id: str) -> Schedule | None:
    """The schedule of the cluster's overall strategy: "the cluster's review schedule"."""
    row = (
        (
            await session.execute(
                select(review_schedules)
                .join(strategies, strategies.c.id == review_schedules.c.strategy_id)
                .where(
                    strategies.c.cluster_id == cluster_id,
                    strategies.c.type == StrategyType.OVERALL.value,
                    scope.clause(review_schedules.c.cluster_id),
                )
            )
        )
        .mappings()
        .first()
    )
    return from_row(Schedule, row) if row is not None else None


async def schedule_of(session: AsyncSession, scope: Scope, strategy_id: str, *, lock: bool = False) -> Schedule | None:
    query = select(review_schedules).where(
        review_schedules.c.strategy_id == strategy_id, scope.clause(review_schedules.c.cluster_id)
    )
    if lock:
        await lock_sqlite_for_writing(session)
        query = query.with_for_update()
    row = (await session.execute(query)).mappings().first()
    return from_row(Schedule, row) if row is not None else None


async def schedules_of(session: AsyncSession, scope: Scope, strategy_ids: Sequence[str]) -> dict[str, Schedule]:
    if not strategy_ids:
        return {}
    rows = (
        await session.execute(
            select(review_schedules).where(
                in_list(review_schedules.c.strategy_id, strategy_ids), scope.clause(review_schedules.c.cluster_id)
            )
        )
    ).mappings()
    return {row["strategy_id"]: from_row(Schedule, row) for row in rows}


def clock_values(clock: ReviewClock, policy: ReminderPolicy, zone: ZoneInfo, *, active: bool) -> dict[str, Any]:
    """The columns that hold a review clock, with when the scheduler next has to look (never while archived)."""
    return {
        "next_due_at": clock.next_due_at,
        "reminded_through": clock.reminded_through,
        "overdue_since": clock.overdue_since,
        "missed_reviews": clock.missed_reviews,
        "escalated": clock.escalated,
        "next_reminder_at": next_reminder_at(clock, policy, zone) if active else None,
    }


async def create_schedule(
    session: AsyncSession, scope: Scope, strategy: Strategy, fields: ScheduleFields, zone: ZoneInfo, now: datetime
) -> bool:
    """Insert a strategy's schedule; False if it already has one."""
    require_scope(scope, strategy.cluster_id)
    clock = ReviewClock(fields.next_due_at, now)
    result = await session.execute(
        insert_for(session, review_schedules)
        .values(
            id=new_id(),
            cluster_id=strategy.cluster_id,
            strategy_id=strategy.id,
            cadence=fields.cadence,
            timezone=fields.timezone,
            anchor_at=fields.anchor_at,
            anchor_mode=fields.anchor_mode.value,
            lead_days=list(fields.policy.lead_days),
            escalate_after_days=fields.policy.escalate_after_days,
            created_at=now,
            updated_at=now,
            **clock_values(clock, fields.policy, zone, active=strategy.archived_at is None),
        )
        .on_conflict_do_nothing(index_elements=["strategy_id"])
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def update_schedule(session: AsyncSession, scope: Scope, schedule_id: str, now: datetime, **values: Any) -> None:
    await session.execute(
        update(review_schedules)
        .where(review_schedules.c.id == schedule_id, scope.clause(review_schedules.c.cluster_id))
        .values(**values, updated_at=now)
    )


async def due_schedules(session: AsyncSession, scope: Scope, now: datetime, limit: int) -> list[Schedule]:
    """Schedules with a reminder due at ``now``, locked for this transaction; rows another replica holds are
    skipped."""
    await lock_sqlite_for_writing(session)
    rows = (
        (
            await session.execute(
                select(review_schedules)
                .where(review_schedules.c.next_reminder_at <= now, scope.clause(review_schedules.c.cluster_id))
                .order_by(review_schedules.c.next_reminder_at, review_schedules.c.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        .mappings()
        .all()
    )
    return [from_row(Schedule, row) for row in rows]
