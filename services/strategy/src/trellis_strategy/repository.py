"""Reading and writing the strategy tables (SQLAlchemy Core; PostgreSQL and SQLite alike).

Every function on a cluster's rows takes the caller's ``Scope`` and filters by it: a row of another cluster is
simply not found, and a write naming another cluster raises ``OutOfScope``. Objectives and KPIs carry no cluster
id of their own; they are kept through their strategy (measurements through their KPI's strategy).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, case, delete, false, func, select, true, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.auth import Scope
from trellis_common.db import insert_for
from trellis_common.events import GapsAssessed, PartnersMatched, ReminderKind
from trellis_strategy.domain.agenda import ActionKind, Activity, ProposedAction
from trellis_strategy.domain.kpi import KpiTarget, Measurement
from trellis_strategy.domain.reminders import AnchorMode, ReminderPolicy, ReviewClock, next_reminder_at
from trellis_strategy.domain.schedule import ScheduleFields
from trellis_strategy.domain.strategy import StrategyPhase, StrategyType
from trellis_strategy.models import (
    calendar_feeds,
    gap_assessments,
    kpi_measurements,
    kpis,
    match_runs,
    objectives,
    proposed_actions,
    review_schedules,
    reviews,
    strategies,
)

# Names derived ids (strategy of a cluster, reminder of a due time) so every replica derives the same ones.
_NAMESPACE = uuid.UUID("8f0d3c52-5a8e-4f37-9a55-2f1b0f0c6d41")


def default_strategy_id(cluster_id: str) -> str:
    """The id of the overall strategy created for a cluster from the loop: the same on every replica."""
    return str(uuid.uuid5(_NAMESPACE, f"strategy-of-cluster:{cluster_id}"))


def reminder_id(schedule_id: str, due_at: datetime, kind: ReminderKind, lead_days: int | None = None) -> str:
    """The same reminder (schedule, due time, kind, lead) has the same id wherever and however often it is built."""
    due = due_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    which = kind.value if lead_days is None else f"{kind.value}-{lead_days}d"
    return str(uuid.uuid5(_NAMESPACE, f"review:{schedule_id}:{due}:{which}"))


def new_id() -> str:
    return str(uuid.uuid4())


def _from_row(cls: type[Any], row: RowMapping) -> Any:
    return cls(**{name: row[name] for name in cls.__dataclass_fields__})


class OutOfScope(LookupError):
    """A write naming a cluster outside the scope; routes answer 404 before one gets here."""


def _require(scope: Scope, cluster_id: str) -> None:
    if not scope.allows(cluster_id):
        raise OutOfScope(f"cluster {cluster_id!r} is outside the scope of {scope.subject!r}")


def _via_strategy(scope: Scope, strategy_id: ColumnElement[Any]) -> ColumnElement[bool]:
    """Rows of a table without a cluster id (objectives, KPIs), kept when their strategy is in the scope."""
    if scope.platform_wide:
        return true()
    return strategy_id.in_(select(strategies.c.id).where(scope.clause(strategies.c.cluster_id)))


def _via_kpi(scope: Scope, kpi_id: ColumnElement[Any]) -> ColumnElement[bool]:
    """Measurements, kept when their KPI's strategy is in the scope."""
    if scope.platform_wide:
        return true()
    return kpi_id.in_(select(kpis.c.id).where(_via_strategy(scope, kpis.c.strategy_id)))


# --- strategies ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Strategy:
    id: str
    cluster_id: str
    type: str
    phase: str
    title: str
    description: str | None
    owners: list[dict[str, str]]
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @property
    def strategy_type(self) -> StrategyType:
        return StrategyType(self.type)

    @property
    def strategy_phase(self) -> StrategyPhase:
        return StrategyPhase(self.phase)

    @property
    def owner_ids(self) -> list[str]:
        return [owner["contact_id"] for owner in self.owners]


async def _lock_sqlite_for_writing(session: AsyncSession) -> None:
    """Give the ``FOR UPDATE`` read that follows its meaning on SQLite too.

    SQLite has no row locks (SQLAlchemy drops ``FOR UPDATE`` there) and its driver begins the transaction at the
    first write, so rows read before it could be changed by another connection and then written back stale: a
    review committed between the scheduler's read and its write was lost. A write that touches no row takes the
    database's write lock now, until commit; what this transaction reads next is the latest state and stays so.
    PostgreSQL locks the rows themselves: nothing to do there.
    """
    if session.get_bind().dialect.name == "sqlite":
        await session.execute(update(review_schedules).where(false()).values(id=review_schedules.c.id))


def _strategy_query(scope: Scope, strategy_id: str) -> Any:
    return select(strategies).where(strategies.c.id == strategy_id, scope.clause(strategies.c.cluster_id))


async def get_strategy(session: AsyncSession, scope: Scope, strategy_id: str) -> Strategy | None:
    row = (await session.execute(_strategy_query(scope, strategy_id))).mappings().first()
    return _from_row(Strategy, row) if row is not None else None


async def lock_strategy(session: AsyncSession, scope: Scope, strategy_id: str) -> Strategy | None:
    """The strategy, locked for this transaction (concurrent reviews of one strategy take turns)."""
    await _lock_sqlite_for_writing(session)
    row = (await session.execute(_strategy_query(scope, strategy_id).with_for_update())).mappings().first()
    return _from_row(Strategy, row) if row is not None else None


async def list_strategies(
    session: AsyncSession, scope: Scope, cluster_id: str, *, include_archived: bool
) -> list[Strategy]:
    query = select(strategies).where(strategies.c.cluster_id == cluster_id, scope.clause(strategies.c.cluster_id))
    if not include_archived:
        query = query.where(strategies.c.archived_at.is_(None))
    # The overall strategy first, then the thematic plans in the order they were made.
    overall_first = case((strategies.c.type == StrategyType.OVERALL.value, 0), else_=1)
    rows = (await session.execute(query.order_by(overall_first, strategies.c.created_at, strategies.c.id))).mappings()
    return [_from_row(Strategy, row) for row in rows]


async def overall_strategy(session: AsyncSession, scope: Scope, cluster_id: str) -> Strategy | None:
    row = (
        (
            await session.execute(
                select(strategies).where(
                    strategies.c.cluster_id == cluster_id,
                    strategies.c.type == StrategyType.OVERALL.value,
                    scope.clause(strategies.c.cluster_id),
                )
            )
        )
        .mappings()
        .first()
    )
    return _from_row(Strategy, row) if row is not None else None


async def insert_strategy(
    session: AsyncSession,
    scope: Scope,
    *,
    strategy_id: str,
    cluster_id: str,
    strategy_type: StrategyType,
    phase: StrategyPhase,
    title: str,
    description: str | None,
    owners: list[dict[str, str]],
    now: datetime,
) -> bool:
    """False when the cluster already has an overall strategy (or the id is taken)."""
    _require(scope, cluster_id)
    result = await session.execute(
        insert_for(session, strategies)
        .values(
            id=strategy_id,
            cluster_id=cluster_id,
            type=strategy_type.value,
            phase=phase.value,
            title=title,
            description=description,
            owners=owners,
            archived_at=None,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing()
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def ensure_overall_strategy(
    session: AsyncSession, scope: Scope, cluster_id: str, title: str, now: datetime
) -> Strategy:
    """The cluster's overall strategy, created if it has none (a concurrent creator wins quietly)."""
    await insert_strategy(
        session,
        scope,
        strategy_id=default_strategy_id(cluster_id),
        cluster_id=cluster_id,
        strategy_type=StrategyType.OVERALL,
        phase=StrategyPhase.DIAGNOSTICS,
        title=title,
        description=None,
        owners=[],
        now=now,
    )
    strategy = await overall_strategy(session, scope, cluster_id)
    assert strategy is not None
    return strategy


async def update_strategy(session: AsyncSession, scope: Scope, strategy_id: str, now: datetime, **values: Any) -> None:
    await session.execute(
        update(strategies)
        .where(strategies.c.id == strategy_id, scope.clause(strategies.c.cluster_id))
        .values(**values, updated_at=now)
    )


# --- review schedules ----------------------------------------------------------------------------------------


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
    return _from_row(Schedule, row) if row is not None else None


async def schedule_of(session: AsyncSession, scope: Scope, strategy_id: str, *, lock: bool = False) -> Schedule | None:
    query = select(review_schedules).where(
        review_schedules.c.strategy_id == strategy_id, scope.clause(review_schedules.c.cluster_id)
    )
    if lock:
        await _lock_sqlite_for_writing(session)
        query = query.with_for_update()
    row = (await session.execute(query)).mappings().first()
    return _from_row(Schedule, row) if row is not None else None


async def schedules_of(session: AsyncSession, scope: Scope, strategy_ids: Sequence[str]) -> dict[str, Schedule]:
    if not strategy_ids:
        return {}
    rows = (
        await session.execute(
            select(review_schedules).where(
                review_schedules.c.strategy_id.in_(strategy_ids), scope.clause(review_schedules.c.cluster_id)
            )
        )
    ).mappings()
    return {row["strategy_id"]: _from_row(Schedule, row) for row in rows}


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
    _require(scope, strategy.cluster_id)
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
    await _lock_sqlite_for_writing(session)
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
    return [_from_row(Schedule, row) for row in rows]


# --- objectives and KPIs -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Objective:
    id: str
    strategy_id: str
    title: str
    description: str | None
    position: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Kpi:
    id: str
    strategy_id: str
    objective_id: str | None
    name: str
    unit: str
    baseline: float
    baseline_date: date
    target: float
    target_date: date
    position: int
    created_at: datetime
    updated_at: datetime

    @property
    def target_line(self) -> KpiTarget:
        return KpiTarget(self.baseline, self.baseline_date, self.target, self.target_date)


@dataclass(frozen=True)
class MeasurementRow:
    measured_on: date
    value: float
    note: str | None
    recorded_at: datetime

    @property
    def measurement(self) -> Measurement:
        return Measurement(self.measured_on, self.value)


async def insert_objective(
    session: AsyncSession, scope: Scope, strategy: Strategy, title: str, description: str | None, now: datetime
) -> str:
    """Add an objective to ``strategy`` (read through a scope, so it names its cluster)."""
    _require(scope, strategy.cluster_id)
    strategy_id = strategy.id
    objective_id = new_id()
    position = await session.scalar(
        select(func.coalesce(func.max(objectives.c.position), -1) + 1).where(objectives.c.strategy_id == strategy_id)
    )
    await session.execute(
        objectives.insert().values(
            id=objective_id,
            strategy_id=strategy_id,
            title=title,
            description=description,
            position=position,
            created_at=now,
            updated_at=now,
        )
    )
    return objective_id


async def list_objectives(session: AsyncSession, scope: Scope, strategy_id: str) -> list[Objective]:
    rows = (
        await session.execute(
            select(objectives)
            .where(objectives.c.strategy_id == strategy_id, _via_strategy(scope, objectives.c.strategy_id))
            .order_by(objectives.c.position, objectives.c.id)
        )
    ).mappings()
    return [_from_row(Objective, row) for row in rows]


async def get_objective(session: AsyncSession, scope: Scope, strategy_id: str, objective_id: str) -> Objective | None:
    row = (
        (
            await session.execute(
                select(objectives).where(
                    objectives.c.id == objective_id,
                    objectives.c.strategy_id == strategy_id,
                    _via_strategy(scope, objectives.c.strategy_id),
                )
            )
        )
        .mappings()
        .first()
    )
    return _from_row(Objective, row) if row is not None else None


async def update_objective(
    session: AsyncSession, scope: Scope, objective_id: str, now: datetime, **values: Any
) -> None:
    await session.execute(
        update(objectives)
        .where(objectives.c.id == objective_id, _via_strategy(scope, objectives.c.strategy_id))
        .values(**values, updated_at=now)
    )


async def delete_objective(session: AsyncSession, scope: Scope, objective_id: str, now: datetime) -> None:
    # Its KPIs stay with the strategy (SQLite does not enforce ON DELETE SET NULL without a pragma).
    await session.execute(
        update(kpis)
        .where(kpis.c.objective_id == objective_id, _via_strategy(scope, kpis.c.strategy_id))
        .values(objective_id=None, updated_at=now)
    )
    await session.execute(
        delete(objectives).where(objectives.c.id == objective_id, _via_strategy(scope, objectives.c.strategy_id))
    )


async def insert_kpi(
    session: AsyncSession,
    scope: Scope,
    strategy: Strategy,
    objective_id: str | None,
    *,
    name: str,
    unit: str,
    target: KpiTarget,
    now: datetime,
) -> str:
    """Add a KPI to ``strategy`` (read through a scope); the caller has checked ``objective_id`` is its own."""
    _require(scope, strategy.cluster_id)
    strategy_id = strategy.id
    kpi_id = new_id()
    position = await session.scalar(
        select(func.coalesce(func.max(kpis.c.position), -1) + 1).where(kpis.c.strategy_id == strategy_id)
    )
    await session.execute(
        kpis.insert().values(
            position=position,
            id=kpi_id,
            strategy_id=strategy_id,
            objective_id=objective_id,
            name=name,
            unit=unit,
            baseline=target.baseline,
            baseline_date=target.baseline_date,
            target=target.target,
            target_date=target.target_date,
            created_at=now,
            updated_at=now,
        )
    )
    return kpi_id


async def get_kpi(session: AsyncSession, scope: Scope, strategy_id: str, kpi_id: str) -> Kpi | None:
    query = select(kpis).where(
        kpis.c.id == kpi_id, kpis.c.strategy_id == strategy_id, _via_strategy(scope, kpis.c.strategy_id)
    )
    row = (await session.execute(query)).mappings().first()
    return _from_row(Kpi, row) if row is not None else None


async def update_kpi(session: AsyncSession, scope: Scope, kpi_id: str, now: datetime, **values: Any) -> None:
    await session.execute(
        update(kpis)
        .where(kpis.c.id == kpi_id, _via_strategy(scope, kpis.c.strategy_id))
        .values(**values, updated_at=now)
    )


async def delete_kpi(session: AsyncSession, scope: Scope, kpi_id: str) -> None:
    await session.execute(
        delete(kpi_measurements).where(kpi_measurements.c.kpi_id == kpi_id, _via_kpi(scope, kpi_measurements.c.kpi_id))
    )
    await session.execute(delete(kpis).where(kpis.c.id == kpi_id, _via_strategy(scope, kpis.c.strategy_id)))


async def kpis_of(session: AsyncSession, scope: Scope, strategy_ids: Sequence[str]) -> dict[str, list[Kpi]]:
    """Each strategy's KPIs, in the order they were added."""
    out: dict[str, list[Kpi]] = {strategy_id: [] for strategy_id in strategy_ids}
    if not strategy_ids:
        return out
    rows = (
        await session.execute(
            select(kpis)
            .where(kpis.c.strategy_id.in_(strategy_ids), _via_strategy(scope, kpis.c.strategy_id))
            .order_by(kpis.c.position, kpis.c.id)
        )
    ).mappings()
    for row in rows:
        out[row["strategy_id"]].append(_from_row(Kpi, row))
    return out


async def measurements_of(
    session: AsyncSession, scope: Scope, kpi_ids: Sequence[str]
) -> dict[str, list[MeasurementRow]]:
    """Each KPI's measurements, oldest first."""
    out: dict[str, list[MeasurementRow]] = {kpi_id: [] for kpi_id in kpi_ids}
    if not kpi_ids:
        return out
    rows = (
        await session.execute(
            select(kpi_measurements)
            .where(kpi_measurements.c.kpi_id.in_(kpi_ids), _via_kpi(scope, kpi_measurements.c.kpi_id))
            .order_by(kpi_measurements.c.measured_on)
        )
    ).mappings()
    for row in rows:
        out[row["kpi_id"]].append(_from_row(MeasurementRow, row))
    return out


async def record_measurement(
    session: AsyncSession, scope: Scope, kpi_id: str, measured_on: date, value: float, note: str | None, now: datetime
) -> bool:
    """Record a KPI's value for a day; True if new, False if it corrected the day's earlier value."""
    if not scope.platform_wide:
        owner = await session.scalar(
            select(strategies.c.cluster_id).join(kpis, kpis.c.strategy_id == strategies.c.id).where(kpis.c.id == kpi_id)
        )
        _require(scope, str(owner))
    stmt = insert_for(session, kpi_measurements).values(
        kpi_id=kpi_id, measured_on=measured_on, value=value, note=note, recorded_at=now
    )
    existed = await session.scalar(
        select(func.count())
        .select_from(kpi_measurements)
        .where(kpi_measurements.c.kpi_id == kpi_id, kpi_measurements.c.measured_on == measured_on)
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["kpi_id", "measured_on"],
            set_={"value": stmt.excluded.value, "note": stmt.excluded.note, "recorded_at": stmt.excluded.recorded_at},
        )
    )
    return not existed


async def delete_measurement(session: AsyncSession, scope: Scope, kpi_id: str, measured_on: date) -> bool:
    result = await session.execute(
        delete(kpi_measurements).where(
            kpi_measurements.c.kpi_id == kpi_id,
            kpi_measurements.c.measured_on == measured_on,
            _via_kpi(scope, kpi_measurements.c.kpi_id),
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


# --- review records ------------------------------------------------------------------------------------------


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
    _require(scope, review.cluster_id)
    await session.execute(reviews.insert().values(**review.__dict__))


async def list_reviews(
    session: AsyncSession, scope: Scope, strategy_id: str, *, limit: int, offset: int
) -> tuple[list[Review], int]:
    where = (reviews.c.strategy_id == strategy_id, scope.clause(reviews.c.cluster_id))
    total = await session.scalar(select(func.count()).select_from(reviews).where(*where))
    rows = (
        await session.execute(
            select(reviews).where(*where).order_by(reviews.c.held_at.desc(), reviews.c.id).limit(limit).offset(offset)
        )
    ).mappings()
    return [_from_row(Review, row) for row in rows], total or 0


async def last_review(session: AsyncSession, scope: Scope, strategy_id: str) -> Review | None:
    items, _total = await list_reviews(session, scope, strategy_id, limit=1, offset=0)
    return items[0] if items else None


# --- proposed actions and what arrived from the loop --------------------------------------------------------


async def propose_actions(
    session: AsyncSession,
    scope: Scope,
    proposals: Sequence[tuple[str, ProposedAction, str, str]],
    *,
    now: datetime,
) -> None:
    """Add each (cluster, action, strategy id, source event id), or refresh the open action with the same key
    (the pool grew, a better partner); a refreshed action stays on the strategy it was first proposed to.
    Applied in order, so a later proposal of the same key in one call refreshes an earlier one."""
    if not proposals:
        return
    for cluster_id, *_ in proposals:
        _require(scope, cluster_id)
    stmt = insert_for(session, proposed_actions)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["cluster_id", "action_key"],
            index_where=proposed_actions.c.reviewed_at.is_(None),
            set_={
                "text": stmt.excluded.text,
                "facts": stmt.excluded.facts,
                "kind": stmt.excluded.kind,
                "source_event_id": stmt.excluded.source_event_id,
                "updated_at": stmt.excluded.updated_at,
            },
        ),
        [
            {
                "cluster_id": cluster_id,
                "strategy_id": strategy_id,
                "kind": action.kind.value,
                "action_key": action.key,
                "text": action.text,
                "facts": dict(action.facts) or None,
                "source_event_id": source_event_id,
                "created_at": now,
                "updated_at": now,
            }
            for cluster_id, action, strategy_id, source_event_id in proposals
        ],
    )


_OPEN_FIRST = case((proposed_actions.c.kind == ActionKind.POOLED_OFFER.value, 0), else_=1)


async def open_actions(session: AsyncSession, scope: Scope, strategy_id: str, limit: int) -> list[dict[str, Any]]:
    """A strategy's open actions for an agenda (kind, text, facts): pooled offers first, then the oldest first."""
    if limit <= 0:
        return []
    rows = await session.execute(
        select(proposed_actions.c.kind, proposed_actions.c.text, proposed_actions.c.facts)
        .where(
            proposed_actions.c.strategy_id == strategy_id,
            proposed_actions.c.reviewed_at.is_(None),
            scope.clause(proposed_actions.c.cluster_id),
        )
        .order_by(_OPEN_FIRST, proposed_actions.c.created_at, proposed_actions.c.id)
        .limit(limit)
    )
    return [dict(row) for row in rows.mappings()]


async def open_action_counts(session: AsyncSession, scope: Scope, strategy_ids: Sequence[str]) -> dict[str, int]:
    if not strategy_ids:
        return {}
    rows = await session.execute(
        select(proposed_actions.c.strategy_id, func.count())
        .where(
            proposed_actions.c.strategy_id.in_(strategy_ids),
            proposed_actions.c.reviewed_at.is_(None),
            scope.clause(proposed_actions.c.cluster_id),
        )
        .group_by(proposed_actions.c.strategy_id)
    )
    counts = {strategy_id: 0 for strategy_id in strategy_ids}
    counts.update({strategy_id: int(count) for strategy_id, count in rows})
    return counts


async def mark_actions_reviewed(
    session: AsyncSession, scope: Scope, strategy_id: str, held_at: datetime, now: datetime
) -> int:
    """A review held at ``held_at`` dealt with the strategy's actions open by then; a later match on the same
    question opens a new line."""
    result = await session.execute(
        update(proposed_actions)
        .where(
            proposed_actions.c.strategy_id == strategy_id,
            proposed_actions.c.reviewed_at.is_(None),
            proposed_actions.c.created_at <= held_at,
            scope.clause(proposed_actions.c.cluster_id),
        )
        .values(reviewed_at=now, updated_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def list_actions(
    session: AsyncSession,
    scope: Scope,
    cluster_id: str,
    *,
    strategy_id: str | None,
    include_reviewed: bool,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    where = [proposed_actions.c.cluster_id == cluster_id, scope.clause(proposed_actions.c.cluster_id)]
    if strategy_id is not None:
        where.append(proposed_actions.c.strategy_id == strategy_id)
    if not include_reviewed:
        where.append(proposed_actions.c.reviewed_at.is_(None))
    total = await session.scalar(select(func.count()).select_from(proposed_actions).where(*where))
    rows = (
        (
            await session.execute(
                select(proposed_actions)
                .where(*where)
                .order_by(_OPEN_FIRST, proposed_actions.c.created_at, proposed_actions.c.id)
                .limit(limit)
                .offset(offset)
            )
        )
        .mappings()
        .all()
    )
    return [dict(row) for row in rows], total or 0


def _skills_of(matched: PartnersMatched) -> list[str]:
    return sorted({option.skill_code for option in matched.options} | {pool.skill_code for pool in matched.pooled})


async def record_match_runs(
    session: AsyncSession, scope: Scope, runs: Sequence[tuple[PartnersMatched, str]], now: datetime
) -> set[str]:
    """Remember (match run, event id) pairs; returns the run ids not seen before (others were re-sent)."""
    if not runs:
        return set()
    for matched, _ in runs:
        _require(scope, matched.cluster_id)
    rows = {
        matched.match_run_id: {
            "match_run_id": matched.match_run_id,
            "event_id": event_id,
            "cluster_id": matched.cluster_id,
            "member_id": matched.member_id,
            "option_count": len(matched.options),
            "pooled_count": len(matched.pooled),
            "skill_codes": _skills_of(matched),
            "matched_at": matched.matched_at,
            "received_at": now,
        }
        for matched, event_id in reversed(runs)  # one row per run id: the first one named
    }
    # Rows as parameters, not in .values(): the statement stays the same whatever the batch size, so it is
    # compiled once (a multi-row VALUES statement is compiled anew for every batch).
    result = await session.scalars(
        insert_for(session, match_runs)
        .on_conflict_do_nothing(index_elements=["match_run_id"])
        .returning(match_runs.c.match_run_id),
        list(rows.values()),
    )
    return set(result.all())


async def record_gap_assessments(
    session: AsyncSession, scope: Scope, assessed: Sequence[tuple[GapsAssessed, list[str]]], now: datetime
) -> set[str]:
    """Remember (assessment, its skills with gaps) pairs; returns the assessment ids not seen before."""
    if not assessed:
        return set()
    for assessment, _ in assessed:
        _require(scope, assessment.cluster_id)
    rows = {
        a.assessment_id: {
            "assessment_id": a.assessment_id,
            "cluster_id": a.cluster_id,
            "member_id": a.member_id,
            "theme": a.theme.value,
            "skill_codes": skill_codes,
            "assessed_at": a.assessed_at,
            "received_at": now,
        }
        for a, skill_codes in reversed(assessed)
    }
    result = await session.scalars(
        insert_for(session, gap_assessments)
        .on_conflict_do_nothing(index_elements=["assessment_id"])
        .returning(gap_assessments.c.assessment_id),
        list(rows.values()),
    )
    return set(result.all())


async def activity_since(
    session: AsyncSession, scope: Scope, cluster_id: str, since: datetime | None
) -> tuple[list[Activity], list[Activity]]:
    """The cluster's match runs and gap assessments received after ``since`` (all of them when None)."""
    run_query = select(match_runs.c.member_id, match_runs.c.skill_codes).where(
        match_runs.c.cluster_id == cluster_id, scope.clause(match_runs.c.cluster_id)
    )
    gap_query = select(gap_assessments.c.member_id, gap_assessments.c.skill_codes).where(
        gap_assessments.c.cluster_id == cluster_id, scope.clause(gap_assessments.c.cluster_id)
    )
    if since is not None:
        run_query = run_query.where(match_runs.c.received_at > since)
        gap_query = gap_query.where(gap_assessments.c.received_at > since)
    runs = [Activity(row.member_id, tuple(row.skill_codes)) for row in await session.execute(run_query)]
    gaps = [Activity(row.member_id, tuple(row.skill_codes)) for row in await session.execute(gap_query)]
    return runs, gaps


# --- calendar feed -------------------------------------------------------------------------------------------


async def set_feed_token(
    session: AsyncSession, scope: Scope, cluster_id: str, token_sha256: str, now: datetime
) -> None:
    _require(scope, cluster_id)
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
