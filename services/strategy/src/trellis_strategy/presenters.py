"""Turning stored strategies into API bodies (reads only)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.auth import Scope
from trellis_strategy import overview
from trellis_strategy.domain.cadence import InvalidCadence, InvalidTimeZone, ReviewCadence, review_dates, time_zone
from trellis_strategy.domain.strategy import StrategyPhase
from trellis_strategy.repositories import actions, kpis, reviews, schedules, strategies
from trellis_strategy.schemas import (
    KpiOut,
    KpiSnapshotOut,
    MeasurementOut,
    ObjectiveOut,
    OwnerOut,
    ReviewOut,
    ScheduleOut,
    StrategyOut,
    cadence_body,
)
from trellis_strategy.settings import StrategySettings


def schedule_out(
    schedule: schedules.Schedule, strategy: strategies.Strategy, now: datetime, upcoming: int = 4
) -> ScheduleOut:
    zone = time_zone(schedule.timezone)
    local = schedule.next_due_at.astimezone(zone)
    cadence = ReviewCadence.parse(schedule.cadence)
    try:
        dates = review_dates(cadence, schedule.anchor_at, schedule.next_due_at, schedule.timezone, upcoming)
    except (InvalidCadence, InvalidTimeZone):
        dates = [schedule.next_due_at]
    # Between a passed review date and the scheduler's next look, the review already counts as overdue.
    overdue_since = schedule.overdue_since or (schedule.next_due_at if schedule.next_due_at <= now else None)
    status = "archived" if strategy.archived_at else "overdue" if overdue_since else "on_schedule"
    return ScheduleOut(
        id=schedule.id,
        cluster_id=schedule.cluster_id,
        strategy_id=schedule.strategy_id,
        strategy_title=strategy.title,
        strategy_type=strategy.strategy_type,
        cadence=cadence_body(cadence),
        timezone=schedule.timezone,
        anchor_at=schedule.anchor_at,
        anchor_mode=schedule.mode,
        lead_days=list(schedule.lead_days),
        escalate_after_days=schedule.escalate_after_days,
        next_due_at=schedule.next_due_at,
        next_due_local=local,
        next_due_date=local.date(),
        status=status,
        overdue_since=overdue_since,
        missed_reviews=schedule.missed_reviews,
        next_reminder_at=schedule.next_reminder_at,
        last_fired_due_at=schedule.last_fired_due_at,
        last_reviewed_at=schedule.last_reviewed_at,
        upcoming=dates,
        created_at=schedule.created_at,
        updated_at=schedule.updated_at,
    )


def kpi_out(view: overview.KpiView) -> KpiOut:
    kpi, assessment = view.kpi, view.assessment
    return KpiOut(
        id=kpi.id,
        objective_id=kpi.objective_id,
        name=kpi.name,
        unit=kpi.unit,
        baseline=kpi.baseline,
        baseline_date=kpi.baseline_date,
        target=kpi.target,
        target_date=kpi.target_date,
        latest=assessment.latest.value if assessment.latest else None,
        latest_on=assessment.latest.measured_on if assessment.latest else None,
        progress=round(assessment.progress, 4) if assessment.progress is not None else None,
        expected=round(assessment.expected, 4) if assessment.expected is not None else None,
        status=assessment.status,
        explanation=assessment.explanation,
        measurements=[
            MeasurementOut(measured_on=m.measured_on, value=m.value, note=m.note, recorded_at=m.recorded_at)
            for m in view.measurements
        ],
    )


def review_out(review: reviews.Review) -> ReviewOut:
    return ReviewOut(
        id=review.id,
        strategy_id=review.strategy_id,
        cluster_id=review.cluster_id,
        held_at=review.held_at,
        recorded_at=review.recorded_at,
        closed_due_at=review.closed_due_at,
        next_due_at=review.next_due_at,
        phase=StrategyPhase(review.phase),
        notes=review.notes,
        decisions=list(review.decisions),
        kpi_snapshot=[KpiSnapshotOut.model_validate(item) for item in review.kpi_snapshot],
        actions_reviewed=review.actions_reviewed,
    )


async def kpi_today(
    session: AsyncSession, scope: Scope, settings: StrategySettings, strategy: strategies.Strategy, now: datetime
) -> list[overview.KpiView]:
    """The strategy's KPIs assessed on today's date in the strategy's time zone."""
    schedule = await schedules.schedule_of(session, scope, strategy.id)
    zone = time_zone(schedule.timezone if schedule else settings.default_timezone)
    views = await overview.kpi_views(
        session, scope, [strategy.id], overview.local_today(now, zone), settings.kpi_on_track_tolerance
    )
    return views[strategy.id]


async def strategy_out(
    session: AsyncSession, scope: Scope, settings: StrategySettings, strategy: strategies.Strategy, now: datetime
) -> StrategyOut:
    schedule = await schedules.schedule_of(session, scope, strategy.id)
    views = await kpi_today(session, scope, settings, strategy, now)
    objectives = await kpis.list_objectives(session, scope, strategy.id)
    last = await reviews.last_review(session, scope, strategy.id)
    open_actions = (await actions.open_action_counts(session, scope, [strategy.id]))[strategy.id]
    return StrategyOut(
        id=strategy.id,
        cluster_id=strategy.cluster_id,
        type=strategy.strategy_type,
        phase=strategy.strategy_phase,
        title=strategy.title,
        description=strategy.description,
        owners=[OwnerOut.model_validate(owner) for owner in strategy.owners],
        archived=strategy.archived_at is not None,
        objectives=[
            ObjectiveOut(
                id=objective.id,
                title=objective.title,
                description=objective.description,
                kpi_ids=[view.kpi.id for view in views if view.kpi.objective_id == objective.id],
            )
            for objective in objectives
        ],
        kpis=[kpi_out(view) for view in views],
        schedule=schedule_out(schedule, strategy, now, settings.calendar_reviews) if schedule else None,
        last_review=review_out(last) if last else None,
        open_actions=open_actions,
        created_at=strategy.created_at,
        updated_at=strategy.updated_at,
    )
