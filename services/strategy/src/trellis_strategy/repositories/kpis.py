"""Objectives, the KPIs that measure them and the KPIs' measurements.

None of them has a cluster id of its own: objectives and KPIs are kept through their strategy, measurements
through their KPI's strategy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.auth import Scope
from trellis_common.db import insert_for
from trellis_common.repositories.in_list import in_list
from trellis_strategy.domain.kpi import KpiTarget, Measurement
from trellis_strategy.models import kpi_measurements, kpis, objectives, strategies
from trellis_strategy.repositories.shared import from_row, new_id, require_scope
from trellis_strategy.repositories.strategies import Strategy


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
    require_scope(scope, strategy.cluster_id)
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
    return [from_row(Objective, row) for row in rows]


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
    return from_row(Objective, row) if row is not None else None


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
    require_scope(scope, strategy.cluster_id)
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
    return from_row(Kpi, row) if row is not None else None


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
            .where(in_list(kpis.c.strategy_id, strategy_ids), _via_strategy(scope, kpis.c.strategy_id))
            .order_by(kpis.c.position, kpis.c.id)
        )
    ).mappings()
    for row in rows:
        out[row["strategy_id"]].append(from_row(Kpi, row))
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
            .where(in_list(kpi_measurements.c.kpi_id, kpi_ids), _via_kpi(scope, kpi_measurements.c.kpi_id))
            .order_by(kpi_measurements.c.measured_on)
        )
    ).mappings()
    for row in rows:
        out[row["kpi_id"]].append(from_row(MeasurementRow, row))
    return out


async def record_measurement(
    session: AsyncSession, scope: Scope, kpi_id: str, measured_on: date, value: float, note: str | None, now: datetime
) -> bool:
    """Record a KPI's value for a day; True if new, False if it corrected the day's earlier value."""
    if not scope.platform_wide:
        owner = await session.scalar(
            select(strategies.c.cluster_id).join(kpis, kpis.c.strategy_id == strategies.c.id).where(kpis.c.id == kpi_id)
        )
        require_scope(scope, str(owner))
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
