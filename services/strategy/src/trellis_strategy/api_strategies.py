"""REST API of the strategy service, strategy level: a strategy, its objectives and KPIs, its review schedule, the
reviews recorded against it, and its KPI progress chart.

Reads need a reader of the strategy's cluster, changes a manager (KPI figures may also come from an integration);
every lookup goes through the caller's scope, so another cluster's strategy, objective or KPI is not found (404).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response, status

from trellis_common.app import CorrelationId, Runtime, not_found
from trellis_common.auth import Reader, Role, Scope, Writer, scope_for
from trellis_common.repositories.names import names_of
from trellis_common.settings import narrowed
from trellis_common.text import INT4_MAX
from trellis_strategy import overview, planning, presenters, repository
from trellis_strategy.api import plan_or_422, unprocessable
from trellis_strategy.chart import KpiBar, kpi_chart
from trellis_strategy.domain.cadence import NoReviewDate, ReviewCadence, time_zone
from trellis_strategy.domain.kpi import KpiTarget
from trellis_strategy.domain.reminders import AnchorMode, ReviewClock, record_review
from trellis_strategy.domain.schedule import series
from trellis_strategy.domain.strategy import InvalidPhaseChange, StrategyType, check_phase_change
from trellis_strategy.models import NAMES
from trellis_strategy.schemas import (
    KpiIn,
    KpiOut,
    KpiPatch,
    MeasurementIn,
    ObjectiveIn,
    ObjectiveOut,
    ObjectivePatch,
    ReviewIn,
    ReviewOut,
    ReviewPage,
    ScheduleIn,
    ScheduleOut,
    StrategyOut,
    StrategyPatch,
)
from trellis_strategy.settings import StrategySettings

router = APIRouter()
StrategyId = Annotated[str, Path(min_length=1, max_length=128, description="The strategy's id")]
ItemId = Annotated[str, Path(min_length=1, max_length=36)]
# KPI figures may be fed by another system of the cluster (a CRM, a survey tool), as well as by its managers.
FigureWriter = Annotated[Scope, Depends(scope_for(Role.CLUSTER_MANAGER, Role.INTEGRATION))]
# A review recorded "now" by a client whose clock runs a little ahead is still now.
_CLOCK_SKEW = timedelta(minutes=5)


async def _strategy(session: Any, scope: Scope, strategy_id: str, *, lock: bool = False) -> repository.Strategy:
    """The strategy, if it exists within the caller's scope; otherwise the same 404 either way."""
    strategy = await (repository.lock_strategy if lock else repository.get_strategy)(session, scope, strategy_id)
    if strategy is None:
        raise not_found("strategy", strategy_id)
    return strategy


def _conflict(message: str) -> HTTPException:
    return HTTPException(status.HTTP_409_CONFLICT, detail=message)


def _today(schedule: repository.Schedule | None, default_zone: str, now: datetime) -> date:
    return overview.local_today(now, time_zone(schedule.timezone if schedule else default_zone))


# --- the strategy --------------------------------------------------------------------------------------------


@router.get("/strategies/{strategy_id}", response_model=StrategyOut, tags=["strategies"], summary="A strategy")
async def get_strategy(strategy_id: StrategyId, scope: Reader, runtime: Runtime) -> StrategyOut:
    settings = narrowed(runtime.settings, StrategySettings)
    async with runtime.db.sessions() as session:
        strategy = await _strategy(session, scope, strategy_id)
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
        strategy = await _strategy(uow.session, scope, strategy_id, lock=True)
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
            await repository.update_strategy(uow.session, scope, strategy.id, now, **values)
        updated = await _strategy(uow.session, scope, strategy.id)
        return await presenters.strategy_out(uow.session, scope, settings, updated, now)


async def _pause_or_resume(
    session: Any, scope: Scope, strategy: repository.Strategy, *, archived: bool, now: datetime
) -> None:
    """Archiving stops the reminders; restoring resumes them from now on (nothing missed meanwhile is sent)."""
    schedule = await repository.schedule_of(session, scope, strategy.id, lock=True)
    if schedule is None:
        return
    zone = time_zone(schedule.timezone)
    clock = schedule.clock
    if not archived:
        following = series(ReviewCadence.parse(schedule.cadence), schedule.anchor_at, schedule.timezone)
        next_due = schedule.next_due_at if schedule.next_due_at > now else following(now)
        clock = ReviewClock(next_due, max(clock.reminded_through, now))  # a fresh start: no overdue spell
    await repository.update_schedule(
        session, scope, schedule.id, now, **repository.clock_values(clock, schedule.policy, zone, active=not archived)
    )


# --- its review schedule -------------------------------------------------------------------------------------


@router.get(
    "/strategies/{strategy_id}/schedule", response_model=ScheduleOut, tags=["review schedule"], summary="Its schedule"
)
async def get_strategy_schedule(strategy_id: StrategyId, scope: Reader, runtime: Runtime) -> ScheduleOut:
    settings = narrowed(runtime.settings, StrategySettings)
    async with runtime.db.sessions() as session:
        strategy = await _strategy(session, scope, strategy_id)
        schedule = await repository.schedule_of(session, scope, strategy_id)
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
        await _strategy(session, scope, strategy_id)
        current = await repository.schedule_of(session, scope, strategy_id)
    fields = await plan_or_422(planning.ScheduleRequest(body, current, settings, now), ["body"])
    async with runtime.unit_of_work(correlation_id=correlation) as uow:
        strategy = await _strategy(uow.session, scope, strategy_id, lock=True)
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
        strategy = await _strategy(uow.session, scope, strategy_id, lock=True)
        if strategy.archived_at is not None:
            raise _conflict("the strategy is archived; restore it (PATCH archived=false) before recording a review")
        await planning.ensure_schedule(uow.session, scope, settings, strategy, now)
        # Locked: a scheduler replica advancing this schedule right now finishes first, and we read its result.
        schedule = await repository.schedule_of(uow.session, scope, strategy.id, lock=True)
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
        review = repository.Review(
            id=repository.new_id(),
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
            actions_reviewed=await repository.mark_actions_reviewed(uow.session, scope, strategy.id, held_at, now),
        )
        await repository.insert_review(uow.session, scope, review)
        await repository.update_schedule(
            uow.session,
            scope,
            schedule.id,
            now,
            anchor_at=anchor,
            last_reviewed_at=held_at,
            **repository.clock_values(clock, schedule.policy, zone, active=True),
        )
        if phase != strategy.strategy_phase:
            await repository.update_strategy(uow.session, scope, strategy.id, now, phase=phase.value)
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
        await _strategy(session, scope, strategy_id)
        items, total = await repository.list_reviews(session, scope, strategy_id, limit=limit, offset=offset)
    return ReviewPage(
        strategy_id=strategy_id,
        items=[presenters.review_out(r) for r in items],
        total=total,
        limit=limit,
        offset=offset,
    )


# --- objectives ----------------------------------------------------------------------------------------------


@router.post(
    "/strategies/{strategy_id}/objectives",
    response_model=ObjectiveOut,
    status_code=status.HTTP_201_CREATED,
    tags=["objectives and KPIs"],
    summary="Add an objective (with the KPIs that measure it)",
)
async def add_objective(strategy_id: StrategyId, body: ObjectiveIn, scope: Writer, runtime: Runtime) -> ObjectiveOut:
    settings = narrowed(runtime.settings, StrategySettings)
    now = runtime.clock.now()
    async with runtime.unit_of_work() as uow:
        strategy = await _strategy(uow.session, scope, strategy_id, lock=True)
        today = _today(await repository.schedule_of(uow.session, scope, strategy.id), settings.default_timezone, now)
        targets = [_target(kpi, today, ["body", "kpis", i]) for i, kpi in enumerate(body.kpis)]
        objective_id = await repository.insert_objective(
            uow.session, scope, strategy, body.title, body.description, now
        )
        kpi_ids = [
            await repository.insert_kpi(
                uow.session, scope, strategy, objective_id, name=kpi.name, unit=kpi.unit, target=target, now=now
            )
            for kpi, target in zip(body.kpis, targets, strict=True)
        ]
    return ObjectiveOut(id=objective_id, title=body.title, description=body.description, kpi_ids=kpi_ids)


@router.patch(
    "/strategies/{strategy_id}/objectives/{objective_id}",
    response_model=ObjectiveOut,
    tags=["objectives and KPIs"],
    summary="Change an objective",
)
async def patch_objective(
    strategy_id: StrategyId, objective_id: ItemId, body: ObjectivePatch, scope: Writer, runtime: Runtime
) -> ObjectiveOut:
    now = runtime.clock.now()
    async with runtime.unit_of_work() as uow:
        await _strategy(uow.session, scope, strategy_id, lock=True)
        if await repository.get_objective(uow.session, scope, strategy_id, objective_id) is None:
            raise not_found("objective", objective_id)
        values = {name: getattr(body, name) for name in body.model_fields_set}
        if "title" in values and values["title"] is None:
            raise unprocessable(["body", "title"], "an objective needs a title")
        if values:
            await repository.update_objective(uow.session, scope, objective_id, now, **values)
        objective = await repository.get_objective(uow.session, scope, strategy_id, objective_id)
        kpis = (await repository.kpis_of(uow.session, scope, [strategy_id]))[strategy_id]
    assert objective is not None
    return ObjectiveOut(
        id=objective.id,
        title=objective.title,
        description=objective.description,
        kpi_ids=[k.id for k in kpis if k.objective_id == objective.id],
    )


@router.delete(
    "/strategies/{strategy_id}/objectives/{objective_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["objectives and KPIs"],
    summary="Remove an objective (its KPIs stay with the strategy)",
)
async def delete_objective(strategy_id: StrategyId, objective_id: ItemId, scope: Writer, runtime: Runtime) -> Response:
    async with runtime.unit_of_work() as uow:
        await _strategy(uow.session, scope, strategy_id, lock=True)
        if await repository.get_objective(uow.session, scope, strategy_id, objective_id) is None:
            raise not_found("objective", objective_id)
        await repository.delete_objective(uow.session, scope, objective_id, runtime.clock.now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- KPIs and measurements -----------------------------------------------------------------------------------


def _target(kpi: KpiIn, today: date, loc: list[str | int]) -> KpiTarget:
    try:
        return KpiTarget(kpi.baseline, kpi.baseline_date or today, kpi.target, kpi.target_date)
    except ValueError as exc:
        raise unprocessable(loc, str(exc)) from exc


async def _kpi_out(session: Any, scope: Scope, runtime: Runtime, strategy: repository.Strategy, kpi_id: str) -> KpiOut:
    views = await presenters.kpi_today(
        session, scope, narrowed(runtime.settings, StrategySettings), strategy, runtime.clock.now()
    )
    for view in views:
        if view.kpi.id == kpi_id:
            return presenters.kpi_out(view)
    raise not_found("KPI", kpi_id)


@router.post(
    "/strategies/{strategy_id}/kpis",
    response_model=KpiOut,
    status_code=status.HTTP_201_CREATED,
    tags=["objectives and KPIs"],
    summary="Add a KPI: unit, baseline, target and target date",
)
async def add_kpi(strategy_id: StrategyId, body: KpiIn, scope: Writer, runtime: Runtime) -> KpiOut:
    settings = narrowed(runtime.settings, StrategySettings)
    now = runtime.clock.now()
    async with runtime.unit_of_work() as uow:
        strategy = await _strategy(uow.session, scope, strategy_id, lock=True)
        if (
            body.objective_id is not None
            and await repository.get_objective(uow.session, scope, strategy_id, body.objective_id) is None
        ):
            raise unprocessable(["body", "objective_id"], f"the strategy has no objective {body.objective_id!r}")
        today = _today(await repository.schedule_of(uow.session, scope, strategy.id), settings.default_timezone, now)
        target = _target(body, today, ["body"])
        kpi_id = await repository.insert_kpi(
            uow.session, scope, strategy, body.objective_id, name=body.name, unit=body.unit, target=target, now=now
        )
        return await _kpi_out(uow.session, scope, runtime, strategy, kpi_id)


@router.get(
    "/strategies/{strategy_id}/kpis/{kpi_id}",
    response_model=KpiOut,
    tags=["objectives and KPIs"],
    summary="A KPI with its measurements, progress and status",
)
async def get_kpi(strategy_id: StrategyId, kpi_id: ItemId, scope: Reader, runtime: Runtime) -> KpiOut:
    async with runtime.db.sessions() as session:
        strategy = await _strategy(session, scope, strategy_id)
        return await _kpi_out(session, scope, runtime, strategy, kpi_id)


@router.patch(
    "/strategies/{strategy_id}/kpis/{kpi_id}",
    response_model=KpiOut,
    tags=["objectives and KPIs"],
    summary="Change a KPI (its measurements stay)",
)
async def patch_kpi(strategy_id: StrategyId, kpi_id: ItemId, body: KpiPatch, scope: Writer, runtime: Runtime) -> KpiOut:
    now = runtime.clock.now()
    async with runtime.unit_of_work() as uow:
        strategy = await _strategy(uow.session, scope, strategy_id, lock=True)
        kpi = await repository.get_kpi(uow.session, scope, strategy_id, kpi_id)
        if kpi is None:
            raise not_found("KPI", kpi_id)
        values = {name: getattr(body, name) for name in body.model_fields_set}
        for required in ("name", "unit", "baseline", "baseline_date", "target", "target_date"):
            if required in values and values[required] is None:
                raise unprocessable(["body", required], f"{required} cannot be null")
        if (
            values.get("objective_id") is not None
            and await repository.get_objective(uow.session, scope, strategy_id, values["objective_id"]) is None
        ):
            raise unprocessable(["body", "objective_id"], f"the strategy has no objective {values['objective_id']!r}")
        merged = {**kpi.__dict__, **values}
        try:
            KpiTarget(merged["baseline"], merged["baseline_date"], merged["target"], merged["target_date"])
        except ValueError as exc:
            raise unprocessable(["body"], str(exc)) from exc
        if values:
            await repository.update_kpi(uow.session, scope, kpi_id, now, **values)
        return await _kpi_out(uow.session, scope, runtime, strategy, kpi_id)


@router.delete(
    "/strategies/{strategy_id}/kpis/{kpi_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["objectives and KPIs"],
    summary="Remove a KPI and its measurements (past review snapshots keep their figures)",
)
async def delete_kpi(strategy_id: StrategyId, kpi_id: ItemId, scope: Writer, runtime: Runtime) -> Response:
    async with runtime.unit_of_work() as uow:
        await _strategy(uow.session, scope, strategy_id, lock=True)
        if await repository.get_kpi(uow.session, scope, strategy_id, kpi_id) is None:
            raise not_found("KPI", kpi_id)
        await repository.delete_kpi(uow.session, scope, kpi_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/strategies/{strategy_id}/kpis/{kpi_id}/measurements",
    response_model=KpiOut,
    status_code=status.HTTP_201_CREATED,
    tags=["objectives and KPIs"],
    summary="Record a KPI's value for a day (200 when it corrects that day's value)",
    responses={200: {"model": KpiOut, "description": "The day's earlier value was corrected"}},
)
async def record_measurement(
    strategy_id: StrategyId,
    kpi_id: ItemId,
    body: MeasurementIn,
    scope: FigureWriter,
    runtime: Runtime,
    response: Response,
) -> KpiOut:
    settings = narrowed(runtime.settings, StrategySettings)
    now = runtime.clock.now()
    async with runtime.unit_of_work() as uow:
        strategy = await _strategy(uow.session, scope, strategy_id)
        kpi = await repository.get_kpi(uow.session, scope, strategy_id, kpi_id)
        if kpi is None:
            raise not_found("KPI", kpi_id)
        today = _today(await repository.schedule_of(uow.session, scope, strategy.id), settings.default_timezone, now)
        measured_on = body.measured_on or today
        if measured_on > today:
            raise unprocessable(["body", "measured_on"], f"measured_on {measured_on} is in the future (today {today})")
        if measured_on < kpi.baseline_date:
            raise unprocessable(
                ["body", "measured_on"], f"measured_on {measured_on} is before the baseline date {kpi.baseline_date}"
            )
        new = await repository.record_measurement(uow.session, scope, kpi_id, measured_on, body.value, body.note, now)
        response.status_code = status.HTTP_201_CREATED if new else status.HTTP_200_OK
        return await _kpi_out(uow.session, scope, runtime, strategy, kpi_id)


@router.delete(
    "/strategies/{strategy_id}/kpis/{kpi_id}/measurements/{measured_on}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["objectives and KPIs"],
    summary="Remove the value recorded for a day",
)
async def delete_measurement(
    strategy_id: StrategyId, kpi_id: ItemId, measured_on: date, scope: FigureWriter, runtime: Runtime
) -> Response:
    async with runtime.unit_of_work() as uow:
        await _strategy(uow.session, scope, strategy_id)
        if await repository.get_kpi(uow.session, scope, strategy_id, kpi_id) is None:
            raise not_found("KPI", kpi_id)
        if not await repository.delete_measurement(uow.session, scope, kpi_id, measured_on):
            raise not_found("measurement of", f"{kpi_id} on {measured_on}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- the picture ---------------------------------------------------------------------------------------------


@router.get(
    "/strategies/{strategy_id}/kpis.svg",
    tags=["objectives and KPIs"],
    summary="KPI progress chart (SVG): progress per KPI against a straight line to its target",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}},
)
async def kpi_progress_chart(strategy_id: StrategyId, scope: Reader, runtime: Runtime) -> Response:
    settings = narrowed(runtime.settings, StrategySettings)
    async with runtime.db.sessions() as session:
        strategy = await _strategy(session, scope, strategy_id)
        views = await presenters.kpi_today(session, scope, settings, strategy, runtime.clock.now())
        names = await names_of(session, NAMES, cluster_ids=[strategy.cluster_id])
    bars = [
        KpiBar(
            name=view.kpi.name,
            unit=view.kpi.unit,
            baseline=view.kpi.baseline,
            target=view.kpi.target,
            latest=view.assessment.latest.value if view.assessment.latest else None,
            progress=view.assessment.progress,
            expected=view.assessment.expected,
            status=view.assessment.status,
        )
        for view in views
    ]
    return Response(
        content=kpi_chart(
            strategy.title, bars, chart_id=f"kpi-{strategy.id[:8]}", cluster_name=names.cluster(strategy.cluster_id)
        ),
        media_type="image/svg+xml",
        headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"},
    )
