"""Routes of one strategy: the strategy itself, its review schedule and the reviews recorded against it.

Every lookup goes through the caller's scope, so another cluster's strategy is not found (404).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response, status

from trellis_common.app import CorrelationId, Runtime, not_found
from trellis_common.auth import Reader, Scope, Writer
from trellis_common.settings import narrowed
from trellis_common.text import INT4_MAX
from trellis_strategy import overview, planning, presenters
from trellis_strategy.api.shared import StrategyId, plan_or_422, strategy_or_404, unprocessable
from trellis_strategy.domain.cadence import NoReviewDate, ReviewCadence, time_zone
from trellis_strategy.domain.reminders import AnchorMode, ReviewClock, record_review
from trellis_strategy.domain.schedule import series
from trellis_strategy.domain.strategy import InvalidPhaseChange, StrategyType, check_phase_change
from trellis_strategy.repositories import actions, reviews, schedules, strategies
from trellis_strategy.repositories.shared import new_id
from trellis_strategy.schemas import (
    ReviewIn,
    ReviewOut,
    ReviewPage,
    ScheduleIn,
    ScheduleOut,
    StrategyOut,
    StrategyPatch,
)
from trellis_strategy.settings import StrategySettings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

router = APIRouter()
# A review recorded "now" by a client whose clock runs a little ahead is still now.
_CLOCK_SKEW = timedelta(minutes=5)


def _conflict(message: str) -> HTTPException:
    return HTTPException(status.HTTP_409_CONFLICT, detail=message)


# --- the strategy --------------------------------------------------------------------------------------------


@router.get("/strategies/{strategy_id}", response_model=StrategyOut, tags=["strategies"], summary="A strategy")
async def get_strategy(strategy_id: StrategyId, scope: Reader, runtime: Runtime) -> StrategyOut:
    settings = narrowed(runtime.settings, StrategySettings)
    async with runtime.db.sessions() as session:
        strategy = await strategy_or_404(session, scope, strategy_id)
        return await presenters.strategy_out(session, scope, settings, strategy, runtime.clock.now())


@router.patch(
    "/strategies/{strategy_id}",
    response_model=StrategyOut,
    tags=["strategies"],
    summary="Rename, describe, move to another phase, change owners, archive or restore a strategy",
)
async def patch_strategy(
    strategy_id: StrategyId, body: StrategyPatch, scope: Writer, runtime: Runtime, correlation: CorrelationId
) -> StrategyOut:
    settings = narrowed(runtime.settings, StrategySettings)
    now = runtime.clock.now()
    async with runtime.unit_of_work(correlation_id=correlation) as uow:
        strategy = await strategy_or_404(uow.session, scope, strategy_id, lock=True)
        values: dict[str, Any] = {}
        for name in ("title", "description"):
            if name in body.model_fields_set:
                if name == "title" and body.title is None:
                    raise unprocessable(["body", "title"], "a strategy needs a title")
                values[name] = getattr(body, name)
        if body.phase is not None and body.phase != strategy.strategy_phase:
            try:
                check_phase_change(strategy.strategy_phase, body.phase)
            except InvalidPhaseChange as exc:
                raise unprocessable(["body", "phase"], str(exc)) from exc
            values["phase"] = body.phase.value
        if body.owners is not None:
            values["owners"] = [owner.model_dump() for owner in body.owners]
        if body.archived is not None and body.archived != (strategy.archived_at is not None):
            if strategy.strategy_type is StrategyType.OVERALL:
                raise _conflict("archived: the overall strategy holds the cluster's review schedule; it stays active")
            values["archived_at"] = now if body.archived else None
            await _pause_or_resume(uow.session, scope, strategy, archived=body.archived, now=now)
        if values:
            await strategies.update_strategy(uow.session, scope, strategy.id, now, **values)
        updated = await strategy_or_404(uow.session, scope, strategy.id)
        return await presenters.strategy_out(uow.session, scope, settings, updated, now)


async def _pause_or_resume(
    session: AsyncSession, scope: Scope, strategy: strategies.Strategy, *, archived: bool, now: datetime
) -> None:
    """Archiving stops the reminders; restoring resumes them from now on (nothing missed meanwhile is sent)."""
    schedule = await schedules.schedule_of(session, scope, strategy.id, lock=True)
    if schedule is None:
        return
    zone = time_zone(schedule.timezone)
    clock = schedule.clock
    if not archived:
        following = series(ReviewCadence.parse(schedule.cadence), schedule.anchor_at, schedule.timezone)
        next_due = schedule.next_due_at if schedule.next_due_at > now else following(now)
        clock = ReviewClock(next_due, max(clock.reminded_through, now))  # a fresh start: no overdue spell
    await schedules.update_schedule(
        session, scope, schedule.id, now, **schedules.clock_values(clock, schedule.policy, zone, active=not archived)
    )


# --- its review schedule -------------------------------------------------------------------------------------


@router.get(
    "/strategies/{strategy_id}/schedule", response_model=ScheduleOut, tags=["review schedule"], summary="Its schedule"
)
async def get_strategy_schedule(strategy_id: StrategyId, scope: Reader, runtime: Runtime) -> ScheduleOut:
    settings = narrowed(runtime.settings, StrategySettings)
    async with runtime.db.sessions() as session:
        strategy = await strategy_or_404(session, scope, strategy_id)
        schedule = await schedules.schedule_of(session, scope, strategy_id)
    if schedule is None:
        raise not_found("review schedule of strategy", strategy_id)
    return presenters.schedule_out(schedule, strategy, runtime.clock.now(), settings.calendar_reviews)


@router.put(
    "/strategies/{strategy_id}/schedule",
    response_model=ScheduleOut,
    tags=["review schedule"],
    summary="Set the strategy's review cadence, time zone, reminders and escalation (201 when new)",
    responses={201: {"model": ScheduleOut, "description": "Schedule created"}},
)
async def put_strategy_schedule(
    strategy_id: StrategyId,
    body: ScheduleIn,
    scope: Writer,
    runtime: Runtime,
    correlation: CorrelationId,
    response: Response,
) -> ScheduleOut:
    settings = narrowed(runtime.settings, StrategySettings)
    now = runtime.clock.now()
    async with runtime.db.sessions() as session:
        await strategy_or_404(session, scope, strategy_id)
        current = await schedules.schedule_of(session, scope, strategy_id)
    fields = await plan_or_422(planning.ScheduleRequest(body, current, settings, now), ["body"])
    async with runtime.unit_of_work(correlation_id=correlation) as uow:
        strategy = await strategy_or_404(uow.session, scope, strategy_id, lock=True)
        created, strategy, schedule = await planning.save_schedule(
            uow.session, scope, strategy, body.strategy_title, fields, now
        )
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return presenters.schedule_out(schedule, strategy, now, settings.calendar_reviews)


# --- reviews -------------------------------------------------------------------------------------------------


@router.post(
    "/strategies/{strategy_id}/reviews",
    response_model=ReviewOut,
    status_code=status.HTTP_201_CREATED,
    tags=["reviews"],
    summary="Record a review: closes the period, snapshots the KPIs, sets the next review date",
)
async def record_strategy_review(
    strategy_id: StrategyId, body: ReviewIn, scope: Writer, runtime: Runtime, correlation: CorrelationId
) -> ReviewOut:
    settings = narrowed(runtime.settings, StrategySettings)
    now = runtime.clock.now()
    if body.held_at is not None and body.held_at > now + _CLOCK_SKEW:
        raise unprocessable(["body", "held_at"], "a review cannot be recorded before it is held (held_at is ahead)")
    held_at = min(body.held_at or now, now)
    async with runtime.unit_of_work(correlation_id=correlation) as uow:
        strategy = await strategy_or_404(uow.session, scope, strategy_id, lock=True)
        if strategy.archived_at is not None:
            raise _conflict("the strategy is archived; restore it (PATCH archived=false) before recording a review")
        await planning.ensure_schedule(uow.session, scope, settings, strategy, now)
        # Locked: a scheduler replica advancing this schedule right now finishes first, and we read its result.
        schedule = await schedules.schedule_of(uow.session, scope, strategy.id, lock=True)
        assert schedule is not None
        if schedule.last_reviewed_at is not None and held_at < schedule.last_reviewed_at:
            raise unprocessable(
                ["body", "held_at"],
                f"held_at is before the last recorded review ({schedule.last_reviewed_at.isoformat()})",
            )
        phase = strategy.strategy_phase
        if body.phase is not None and body.phase != phase:
            try:
                check_phase_change(phase, body.phase)
            except InvalidPhaseChange as exc:
                raise unprocessable(["body", "phase"], str(exc)) from exc
            phase = body.phase
        cadence = ReviewCadence.parse(schedule.cadence)
        anchor = held_at if schedule.mode is AnchorMode.REVIEW_DATE else schedule.anchor_at
        try:
            clock, closed = record_review(
                schedule.clock,
                held_at=held_at,
                now=now,
                mode=schedule.mode,
                following=series(cadence, anchor, schedule.timezone),
            )
        except NoReviewDate as exc:
            raise unprocessable(["body", "held_at"], f"no next review date from this review: {exc}") from exc
        zone = time_zone(schedule.timezone)
        views = await overview.kpi_views(
            uow.session, scope, [strategy.id], overview.local_today(now, zone), settings.kpi_on_track_tolerance
        )
        review = reviews.Review(
            id=new_id(),
            strategy_id=strategy.id,
            cluster_id=strategy.cluster_id,
            held_at=held_at,
            recorded_at=now,
            closed_due_at=closed,
            next_due_at=clock.next_due_at,
            phase=phase.value,
            notes=body.notes,
            decisions=list(body.decisions),
            kpi_snapshot=[view.snapshot().model_dump(mode="json") for view in views[strategy.id]],
            actions_reviewed=await actions.mark_actions_reviewed(uow.session, scope, strategy.id, held_at, now),
        )
        await reviews.insert_review(uow.session, scope, review)
        await schedules.update_schedule(
            uow.session,
            scope,
            schedule.id,
            now,
            anchor_at=anchor,
            last_reviewed_at=held_at,
            **schedules.clock_values(clock, schedule.policy, zone, active=True),
        )
        if phase != strategy.strategy_phase:
            await strategies.update_strategy(uow.session, scope, strategy.id, now, phase=phase.value)
    return presenters.review_out(review)


@router.get(
    "/strategies/{strategy_id}/reviews", response_model=ReviewPage, tags=["reviews"], summary="Reviews, newest first"
)
async def list_strategy_reviews(
    strategy_id: StrategyId,
    scope: Reader,
    runtime: Runtime,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    offset: Annotated[int, Query(ge=0, le=INT4_MAX)] = 0,
) -> ReviewPage:
    async with runtime.db.sessions() as session:
        await strategy_or_404(session, scope, strategy_id)
        items, total = await reviews.list_reviews(session, scope, strategy_id, limit=limit, offset=offset)
    return ReviewPage(
        strategy_id=strategy_id,
        items=[presenters.review_out(r) for r in items],
        total=total,
        limit=limit,
        offset=offset,
    )
