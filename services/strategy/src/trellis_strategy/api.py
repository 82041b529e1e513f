"""REST API of the strategy service: a cluster's review schedule and the actions proposed for its reviews."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response, status

from trellis_common.app import CorrelationId, Runtime, not_found
from trellis_strategy import repository
from trellis_strategy.domain.cadence import NoReviewDate, ReviewCadence, time_zone
from trellis_strategy.domain.schedule import plan_schedule
from trellis_strategy.schemas import ActionPage, ScheduleIn, ScheduleOut, cadence_body, to_cadence
from trellis_strategy.settings import strategy_settings

router = APIRouter(tags=["review schedule"])
ClusterId = Annotated[str, Path(min_length=1, max_length=128, description="The cluster's id (as in surveys)")]


def _schedule_out(schedule: repository.Schedule) -> ScheduleOut:
    local = schedule.next_due_at.astimezone(time_zone(schedule.timezone))
    return ScheduleOut(
        id=schedule.id,
        cluster_id=schedule.cluster_id,
        strategy_id=schedule.strategy_id,
        strategy_title=schedule.strategy_title,
        cadence=cadence_body(ReviewCadence.parse(schedule.cadence)),
        timezone=schedule.timezone,
        anchor_at=schedule.anchor_at,
        next_due_at=schedule.next_due_at,
        next_due_local=local,
        next_due_date=local.date(),
        last_fired_due_at=schedule.last_fired_due_at,
        created_at=schedule.created_at,
        updated_at=schedule.updated_at,
    )


@router.get("/clusters/{cluster_id}/schedule", response_model=ScheduleOut, summary="The cluster's review schedule")
async def get_schedule(cluster_id: ClusterId, runtime: Runtime) -> ScheduleOut:
    async with runtime.db.sessions() as session:
        schedule = await repository.get_schedule(session, cluster_id)
    if schedule is None:
        raise not_found("review schedule of cluster", cluster_id)
    return _schedule_out(schedule)


@router.put(
    "/clusters/{cluster_id}/schedule",
    response_model=ScheduleOut,
    summary="Set the cluster's review cadence and time zone (201 when the schedule is new)",
    responses={201: {"model": ScheduleOut, "description": "Schedule created"}},
)
async def put_schedule(
    cluster_id: ClusterId, body: ScheduleIn, runtime: Runtime, correlation: CorrelationId, response: Response
) -> ScheduleOut:
    settings = strategy_settings(runtime.settings)
    cadence = to_cadence(body.cadence)
    now = runtime.clock.now()
    async with runtime.db.sessions() as session:
        current = await repository.get_schedule(session, cluster_id)
    timezone = body.timezone or (current.timezone if current else settings.default_timezone)
    title = body.strategy_title or (current.strategy_title if current else settings.default_strategy_title)
    anchor = body.anchor_at or (current.anchor_at if current else now)
    try:
        # A contrived rule can take a moment to prove it never occurs; keep the event loop free meanwhile.
        fields = await asyncio.to_thread(plan_schedule, cadence, timezone, title, anchor, now)
    except NoReviewDate as exc:
        raise HTTPException(
            422,  # what request validation answers, so clients see one kind of error for bad input
            detail=[{"type": "value_error", "loc": ["body", "cadence"], "msg": str(exc)}],
        ) from exc
    async with runtime.unit_of_work(correlation_id=correlation) as uow:
        created = await repository.create_schedule(uow.session, cluster_id, fields, now)
        if not created:
            existing = await repository.get_schedule(uow.session, cluster_id)
            assert existing is not None
            series_unchanged = (existing.cadence, existing.timezone, existing.anchor_at) == (
                fields.cadence, fields.timezone, fields.anchor_at
            )
            await repository.update_schedule(
                uow.session,
                existing.id,
                now,
                strategy_title=fields.strategy_title,
                cadence=fields.cadence,
                timezone=fields.timezone,
                anchor_at=fields.anchor_at,
                # Renaming alone must not skip a review that is due but not yet fired.
                next_due_at=existing.next_due_at if series_unchanged else fields.next_due_at,
            )
        schedule = await repository.get_schedule(uow.session, cluster_id)
    assert schedule is not None
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return _schedule_out(schedule)


@router.get(
    "/clusters/{cluster_id}/actions",
    response_model=ActionPage,
    tags=["review agenda"],
    summary="Actions proposed for the cluster's next review (pooled offers first)",
)
async def list_actions(
    cluster_id: ClusterId,
    runtime: Runtime,
    include_reviewed: Annotated[bool, Query(description="Also list actions a review has dealt with")] = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ActionPage:
    async with runtime.db.sessions() as session:
        items, total = await repository.list_actions(
            session, cluster_id, include_reviewed=include_reviewed, limit=limit, offset=offset
        )
    return ActionPage.model_validate(
        {"cluster_id": cluster_id, "items": items, "total": total, "limit": limit, "offset": offset}
    )
