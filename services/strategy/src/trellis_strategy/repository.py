"""Reading and writing the strategy tables (SQLAlchemy Core; PostgreSQL and SQLite alike)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.db import insert_for
from trellis_common.events import PartnersMatched, ReminderKind
from trellis_strategy.domain.agenda import ActionKind, ProposedAction
from trellis_strategy.domain.schedule import ScheduleFields
from trellis_strategy.models import match_runs, proposed_actions, review_schedules

# Names derived ids (strategy of a cluster, reminder of a due time) so every replica derives the same ones.
_NAMESPACE = uuid.UUID("8f0d3c52-5a8e-4f37-9a55-2f1b0f0c6d41")


def default_strategy_id(cluster_id: str) -> str:
    """Until strategies are their own records, each cluster has one strategy with an id derived from it."""
    return str(uuid.uuid5(_NAMESPACE, f"strategy-of-cluster:{cluster_id}"))


def reminder_id(schedule_id: str, due_at: datetime, kind: ReminderKind) -> str:
    """The same reminder (schedule, due time, kind) has the same id wherever and however often it is built."""
    due = due_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(uuid.uuid5(_NAMESPACE, f"review:{schedule_id}:{due}:{kind.value}"))


@dataclass(frozen=True)
class Schedule:
    id: str
    cluster_id: str
    strategy_id: str
    strategy_title: str
    cadence: str
    timezone: str
    anchor_at: datetime
    next_due_at: datetime
    last_fired_due_at: datetime | None
    last_fired_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: RowMapping) -> Schedule:
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})


async def get_schedule(session: AsyncSession, cluster_id: str) -> Schedule | None:
    row = (
        await session.execute(select(review_schedules).where(review_schedules.c.cluster_id == cluster_id))
    ).mappings().first()
    return Schedule.from_row(row) if row is not None else None


async def ensure_schedule(session: AsyncSession, cluster_id: str, fields: ScheduleFields, now: datetime) -> Schedule:
    """The cluster's schedule, created from ``fields`` if it has none (a concurrent creator wins quietly)."""
    await session.execute(
        insert_for(session, review_schedules)
        .values(_new_schedule_row(cluster_id, fields, now))
        .on_conflict_do_nothing(index_elements=["cluster_id"])
    )
    schedule = await get_schedule(session, cluster_id)
    assert schedule is not None
    return schedule


async def create_schedule(session: AsyncSession, cluster_id: str, fields: ScheduleFields, now: datetime) -> bool:
    """Insert a schedule; False if the cluster already has one."""
    result = await session.execute(
        insert_for(session, review_schedules)
        .values(_new_schedule_row(cluster_id, fields, now))
        .on_conflict_do_nothing(index_elements=["cluster_id"])
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def update_schedule(session: AsyncSession, schedule_id: str, now: datetime, **values: Any) -> None:
    await session.execute(
        update(review_schedules).where(review_schedules.c.id == schedule_id).values(**values, updated_at=now)
    )


def _new_schedule_row(cluster_id: str, fields: ScheduleFields, now: datetime) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "cluster_id": cluster_id,
        "strategy_id": default_strategy_id(cluster_id),
        "strategy_title": fields.strategy_title,
        "cadence": fields.cadence,
        "timezone": fields.timezone,
        "anchor_at": fields.anchor_at,
        "next_due_at": fields.next_due_at,
        "created_at": now,
        "updated_at": now,
    }


async def due_schedules(session: AsyncSession, now: datetime, limit: int) -> list[Schedule]:
    """Schedules due at ``now``, locked for this transaction; rows another replica holds are skipped."""
    rows = (
        await session.execute(
            select(review_schedules)
            .where(review_schedules.c.next_due_at <= now)
            .order_by(review_schedules.c.next_due_at, review_schedules.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).mappings().all()
    return [Schedule.from_row(row) for row in rows]


async def record_match_run(session: AsyncSession, matched: PartnersMatched, event_id: str, now: datetime) -> bool:
    """Remember a match run; False if it was seen before (re-sent under another event id)."""
    result = await session.execute(
        insert_for(session, match_runs)
        .values(
            match_run_id=matched.match_run_id,
            event_id=event_id,
            cluster_id=matched.cluster_id,
            member_id=matched.member_id,
            option_count=len(matched.options),
            pooled_count=len(matched.pooled),
            matched_at=matched.matched_at,
            received_at=now,
        )
        .on_conflict_do_nothing(index_elements=["match_run_id"])
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def propose_actions(
    session: AsyncSession,
    schedule: Schedule,
    actions: Sequence[ProposedAction],
    *,
    source_event_id: str,
    now: datetime,
) -> None:
    """Add each action, or refresh the open action with the same key (the pool grew, a better partner)."""
    for action in actions:
        stmt = insert_for(session, proposed_actions).values(
            cluster_id=schedule.cluster_id,
            strategy_id=schedule.strategy_id,
            kind=action.kind.value,
            action_key=action.key,
            text=action.text,
            source_event_id=source_event_id,
            created_at=now,
            updated_at=now,
        )
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["cluster_id", "action_key"],
                index_where=proposed_actions.c.reviewed_at.is_(None),
                set_={
                    "text": stmt.excluded.text,
                    "kind": stmt.excluded.kind,
                    "source_event_id": stmt.excluded.source_event_id,
                    "updated_at": stmt.excluded.updated_at,
                },
            )
        )


_OPEN_FIRST = case((proposed_actions.c.kind == ActionKind.POOLED_OFFER.value, 0), else_=1)


async def open_action_texts(session: AsyncSession, cluster_id: str, limit: int) -> list[str]:
    """Open actions for an agenda: pooled offers first, then the oldest first."""
    if limit <= 0:
        return []
    texts = await session.scalars(
        select(proposed_actions.c.text)
        .where(proposed_actions.c.cluster_id == cluster_id, proposed_actions.c.reviewed_at.is_(None))
        .order_by(_OPEN_FIRST, proposed_actions.c.created_at, proposed_actions.c.id)
        .limit(limit)
    )
    return list(texts)


async def list_actions(
    session: AsyncSession, cluster_id: str, *, include_reviewed: bool, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    where = [proposed_actions.c.cluster_id == cluster_id]
    if not include_reviewed:
        where.append(proposed_actions.c.reviewed_at.is_(None))
    total = await session.scalar(select(func.count()).select_from(proposed_actions).where(*where))
    rows = (
        await session.execute(
            select(proposed_actions)
            .where(*where)
            .order_by(_OPEN_FIRST, proposed_actions.c.created_at, proposed_actions.c.id)
            .limit(limit)
            .offset(offset)
        )
    ).mappings().all()
    return [dict(row) for row in rows], total or 0


async def take_new_matches(session: AsyncSession, cluster_id: str, reminder: str) -> tuple[int, int]:
    """Hand the match runs no reminder has reported yet to ``reminder``.

    Returns (match runs, distinct members whose runs proposed a partner). Marking and counting are one
    statement, so a run committed meanwhile is neither lost nor counted twice: the next reminder reports it.
    """
    rows = (
        await session.execute(
            update(match_runs)
            .where(match_runs.c.cluster_id == cluster_id, match_runs.c.agenda_reminder_id.is_(None))
            .values(agenda_reminder_id=reminder)
            .returning(match_runs.c.member_id, match_runs.c.option_count, match_runs.c.pooled_count)
        )
    ).all()
    members = {row.member_id for row in rows if row.option_count + row.pooled_count > 0}
    return len(rows), len(members)
