"""Routes of a cluster: its strategies, its default review schedule (that of its overall strategy) and the actions
proposed for its reviews."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response, status

from trellis_common.app import ClusterId, CorrelationId, Runtime, not_found
from trellis_common.auth import Reader, Writer
from trellis_common.settings import narrowed
from trellis_common.text import INT4_MAX
from trellis_strategy import overview, planning, presenters
from trellis_strategy.api.shared import in_scope, kpi_target, plan_or_422
from trellis_strategy.domain.cadence import ReviewCadence, time_zone
from trellis_strategy.domain.strategy import DEFAULT_TITLES
from trellis_strategy.repositories import actions, kpis, schedules, strategies
from trellis_strategy.repositories.shared import new_id
from trellis_strategy.schemas import (
    ActionPage,
    ScheduleIn,
    ScheduleOut,
    StrategyIn,
    StrategyList,
    StrategyOut,
    cadence_body,
)
from trellis_strategy.settings import StrategySettings

router = APIRouter()

# --- the cluster's default schedule (of its overall strategy) ------------------------------------------------


@router.get(
    "/clusters/{cluster_id}/schedule",
    response_model=ScheduleOut,
    tags=["review schedule"],
    summary="The review schedule of the cluster's overall strategy",
)
async def get_schedule(cluster_id: ClusterId, scope: Reader, runtime: Runtime) -> ScheduleOut:
    settings = narrowed(runtime.settings, StrategySettings)
    async with runtime.db.sessions() as session:
        strategy = await strategies.overall_strategy(session, scope, cluster_id)
        schedule = await schedules.schedule_of(session, scope, strategy.id) if strategy else None
    if strategy is None or schedule is None:
        raise not_found("review schedule of cluster", cluster_id)
    return presenters.schedule_out(schedule, strategy, runtime.clock.now(), settings.calendar_reviews)


@router.put(
    "/clusters/{cluster_id}/schedule",
    response_model=ScheduleOut,
    tags=["review schedule"],
    summary="Set the review cadence of the cluster's overall strategy (201 when the schedule is new)",
    responses={201: {"model": ScheduleOut, "description": "Schedule created"}},
)
async def put_schedule(
    cluster_id: ClusterId,
    body: ScheduleIn,
    scope: Writer,
    runtime: Runtime,
    correlation: CorrelationId,
    response: Response,
) -> ScheduleOut:
    in_scope(scope, cluster_id)
    settings = narrowed(runtime.settings, StrategySettings)
    now = runtime.clock.now()
    async with runtime.db.sessions() as session:
        strategy = await strategies.overall_strategy(session, scope, cluster_id)
        current = await schedules.schedule_of(session, scope, strategy.id) if strategy else None
    fields = await plan_or_422(planning.ScheduleRequest(body, current, settings, now), ["body"])
    async with runtime.unit_of_work(correlation_id=correlation) as uow:
        title = body.strategy_title or settings.default_strategy_title
        strategy = await strategies.ensure_overall_strategy(uow.session, scope, cluster_id, title, now)
        created, strategy, schedule = await planning.save_schedule(
            uow.session, scope, strategy, body.strategy_title, fields, now
        )
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return presenters.schedule_out(schedule, strategy, now, settings.calendar_reviews)


@router.get(
    "/clusters/{cluster_id}/actions",
    response_model=ActionPage,
    tags=["review agenda"],
    summary="Actions proposed for the cluster's next reviews (pooled offers first)",
)
async def list_actions(
    cluster_id: ClusterId,
    scope: Reader,
    runtime: Runtime,
    include_reviewed: Annotated[bool, Query(description="Also list actions a review has dealt with")] = False,
    strategy_id: Annotated[str | None, Query(max_length=128, description="Only this strategy's actions")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=INT4_MAX)] = 0,
) -> ActionPage:
    in_scope(scope, cluster_id)
    async with runtime.db.sessions() as session:
        items, total = await actions.list_actions(
            session,
            scope,
            cluster_id,
            strategy_id=strategy_id,
            include_reviewed=include_reviewed,
            limit=limit,
            offset=offset,
        )
        worded = await overview.worded_actions(session, items)
    items = [item | {"text": text, "facts": data} for item, (text, data) in zip(items, worded, strict=True)]
    return ActionPage.model_validate(
        {"cluster_id": cluster_id, "items": items, "total": total, "limit": limit, "offset": offset}
    )


# --- strategies --------------------------------------------------------------------------------------------


@router.get(
    "/clusters/{cluster_id}/strategies",
    response_model=StrategyList,
    tags=["strategies"],
    summary="The cluster's strategies (overall first), with KPI status and schedule",
)
async def list_strategies(
    cluster_id: ClusterId,
    scope: Reader,
    runtime: Runtime,
    include_archived: Annotated[bool, Query(description="Also list archived strategies")] = False,
) -> StrategyList:
    in_scope(scope, cluster_id)
    settings = narrowed(runtime.settings, StrategySettings)
    now = runtime.clock.now()
    async with runtime.db.sessions() as session:
        found = await strategies.list_strategies(session, scope, cluster_id, include_archived=include_archived)
        items = [await presenters.strategy_out(session, scope, settings, strategy, now) for strategy in found]
    return StrategyList(cluster_id=cluster_id, items=items)


@router.post(
    "/clusters/{cluster_id}/strategies",
    response_model=StrategyOut,
    status_code=status.HTTP_201_CREATED,
    tags=["strategies"],
    summary="Create a strategy with its objectives, KPIs, owners and review schedule",
    responses={409: {"description": "The cluster already has an overall strategy"}},
)
async def create_strategy(
    cluster_id: ClusterId, body: StrategyIn, scope: Writer, runtime: Runtime, correlation: CorrelationId
) -> StrategyOut:
    in_scope(scope, cluster_id)
    settings = narrowed(runtime.settings, StrategySettings)
    now = runtime.clock.now()
    schedule_body = body.schedule or ScheduleIn(cadence=cadence_body(ReviewCadence.parse(settings.default_cadence)))
    fields = await plan_or_422(planning.ScheduleRequest(schedule_body, None, settings, now), ["body", "schedule"])
    today = overview.local_today(now, time_zone(fields.timezone))
    kpi_targets = [kpi_target(kpi, today, ["body", "kpis", i]) for i, kpi in enumerate(body.kpis)]
    objective_targets = [
        [kpi_target(kpi, today, ["body", "objectives", i, "kpis", j]) for j, kpi in enumerate(objective.kpis)]
        for i, objective in enumerate(body.objectives)
    ]
    strategy_id = new_id()
    async with runtime.unit_of_work(correlation_id=correlation) as uow:
        created = await strategies.insert_strategy(
            uow.session,
            scope,
            strategy_id=strategy_id,
            cluster_id=cluster_id,
            strategy_type=body.type,
            phase=body.phase,
            title=body.title or DEFAULT_TITLES[body.type],
            description=body.description,
            owners=[owner.model_dump() for owner in body.owners],
            now=now,
        )
        if not created:
            existing = await strategies.overall_strategy(uow.session, scope, cluster_id)
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                detail=f"type: cluster {cluster_id!r} already has an overall strategy "
                f"({existing.id if existing else '?'}); change it with PATCH /strategies/{{id}}",
            )
        strategy = await strategies.get_strategy(uow.session, scope, strategy_id)
        assert strategy is not None
        for kpi, target in zip(body.kpis, kpi_targets, strict=True):
            await kpis.insert_kpi(
                uow.session, scope, strategy, None, name=kpi.name, unit=kpi.unit, target=target, now=now
            )
        for objective, targets in zip(body.objectives, objective_targets, strict=True):
            objective_id = await kpis.insert_objective(
                uow.session, scope, strategy, objective.title, objective.description, now
            )
            for kpi, target in zip(objective.kpis, targets, strict=True):
                await kpis.insert_kpi(
                    uow.session, scope, strategy, objective_id, name=kpi.name, unit=kpi.unit, target=target, now=now
                )
        await planning.apply_schedule(uow.session, scope, strategy, fields, now)
        return await presenters.strategy_out(uow.session, scope, settings, strategy, now)
