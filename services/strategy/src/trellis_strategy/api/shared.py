"""What the strategy routes share: scope and input checks that answer 404 or 422, and the strategy a path names."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

from fastapi import HTTPException, Path

from trellis_common.app import not_found
from trellis_common.auth import Scope
from trellis_strategy import overview, planning
from trellis_strategy.domain.cadence import NoReviewDate, time_zone
from trellis_strategy.domain.kpi import KpiTarget
from trellis_strategy.domain.schedule import ScheduleFields
from trellis_strategy.repositories import schedules, strategies
from trellis_strategy.schemas import KpiIn

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

StrategyId = Annotated[str, Path(min_length=1, max_length=128, description="The strategy's id")]


def in_scope(scope: Scope, cluster_id: str) -> None:
    """A cluster outside the caller's scope is not found (404, never 403, so other clusters cannot be probed)."""
    if not scope.allows(cluster_id):
        raise not_found("cluster", cluster_id)


def unprocessable(loc: list[str | int], message: str) -> HTTPException:
    """A 422 in the shape request validation uses, so clients read every bad input the same way."""
    return HTTPException(422, detail=[{"type": "value_error", "loc": loc, "msg": message}])


async def plan_or_422(request: planning.ScheduleRequest, loc: list[str | int]) -> ScheduleFields:
    try:
        # A contrived rule can take a moment to prove it never occurs; keep the event loop free meanwhile.
        return await asyncio.to_thread(request.plan)
    except NoReviewDate as exc:
        raise unprocessable([*loc, "cadence"], str(exc)) from exc
    except planning.LeadTimeTooLong as exc:
        raise unprocessable([*loc, "lead_days"], str(exc)) from exc


async def strategy_or_404(
    session: AsyncSession, scope: Scope, strategy_id: str, *, lock: bool = False
) -> strategies.Strategy:
    """The strategy, if it exists within the caller's scope; otherwise the same 404 either way."""
    strategy = await (strategies.lock_strategy if lock else strategies.get_strategy)(session, scope, strategy_id)
    if strategy is None:
        raise not_found("strategy", strategy_id)
    return strategy


def strategy_today(schedule: schedules.Schedule | None, default_zone: str, now: datetime) -> date:
    """Today in the strategy's time zone (the default zone while it has no schedule)."""
    return overview.local_today(now, time_zone(schedule.timezone if schedule else default_zone))


def kpi_target(kpi: KpiIn, today: date, loc: list[str | int]) -> KpiTarget:
    """The KPI's line from baseline to target; the baseline defaults to today (checked against the target date)."""
    try:
        return KpiTarget(kpi.baseline, kpi.baseline_date or today, kpi.target, kpi.target_date)
    except ValueError as exc:
        raise unprocessable(loc, str(exc)) from exc
