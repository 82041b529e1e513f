"""Routes of a strategy's objectives, KPIs and measurements, and its KPI progress chart.

Changes need a manager; KPI figures may also come from an integration. An objective or KPI that is not the named
strategy's is not found (404).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Depends, Path, Response, status

from trellis_common.app import Runtime, not_found
from trellis_common.auth import Reader, Role, Scope, Writer, scope_for
from trellis_common.repositories.names import names_of
from trellis_common.settings import narrowed
from trellis_strategy import presenters
from trellis_strategy.api.shared import StrategyId, kpi_target, strategy_or_404, strategy_today, unprocessable
from trellis_strategy.chart import KpiBar, kpi_chart
from trellis_strategy.domain.kpi import KpiTarget
from trellis_strategy.models import NAMES
from trellis_strategy.repositories import kpis, schedules, strategies
from trellis_strategy.schemas import (
    KpiIn,
    KpiOut,
    KpiPatch,
    MeasurementIn,
    ObjectiveIn,
    ObjectiveOut,
    ObjectivePatch,
)
from trellis_strategy.settings import StrategySettings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

router = APIRouter()
ItemId = Annotated[str, Path(min_length=1, max_length=36)]
# KPI figures may be fed by another system of the cluster (a CRM, a survey tool), as well as by its managers.
FigureWriter = Annotated[Scope, Depends(scope_for(Role.CLUSTER_MANAGER, Role.INTEGRATION))]


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
        strategy = await strategy_or_404(uow.session, scope, strategy_id, lock=True)
        today = strategy_today(
            await schedules.schedule_of(uow.session, scope, strategy.id), settings.default_timezone, now
        )
        targets = [kpi_target(kpi, today, ["body", "kpis", i]) for i, kpi in enumerate(body.kpis)]
        objective_id = await kpis.insert_objective(uow.session, scope, strategy, body.title, body.description, now)
        kpi_ids = [
            await kpis.insert_kpi(
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
        await strategy_or_404(uow.session, scope, strategy_id, lock=True)
        if await kpis.get_objective(uow.session, scope, strategy_id, objective_id) is None:
            raise not_found("objective", objective_id)
        values = {name: getattr(body, name) for name in body.model_fields_set}
        if "title" in values and values["title"] is None:
            raise unprocessable(["body", "title"], "an objective needs a title")
        if values:
            await kpis.update_objective(uow.session, scope, objective_id, now, **values)
        objective = await kpis.get_objective(uow.session, scope, strategy_id, objective_id)
        measured_by = (await kpis.kpis_of(uow.session, scope, [strategy_id]))[strategy_id]
    assert objective is not None
    return ObjectiveOut(
        id=objective.id,
        title=objective.title,
        description=objective.description,
        kpi_ids=[k.id for k in measured_by if k.objective_id == objective.id],
    )


@router.delete(
    "/strategies/{strategy_id}/objectives/{objective_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["objectives and KPIs"],
    summary="Remove an objective (its KPIs stay with the strategy)",
)
async def delete_objective(strategy_id: StrategyId, objective_id: ItemId, scope: Writer, runtime: Runtime) -> Response:
    async with runtime.unit_of_work() as uow:
        await strategy_or_404(uow.session, scope, strategy_id, lock=True)
        if await kpis.get_objective(uow.session, scope, strategy_id, objective_id) is None:
            raise not_found("objective", objective_id)
        await kpis.delete_objective(uow.session, scope, objective_id, runtime.clock.now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- KPIs and measurements -----------------------------------------------------------------------------------


async def _kpi_out(
    session: AsyncSession, scope: Scope, runtime: Runtime, strategy: strategies.Strategy, kpi_id: str
) -> KpiOut:
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
        strategy = await strategy_or_404(uow.session, scope, strategy_id, lock=True)
        if (
            body.objective_id is not None
            and await kpis.get_objective(uow.session, scope, strategy_id, body.objective_id) is None
        ):
            raise unprocessable(["body", "objective_id"], f"the strategy has no objective {body.objective_id!r}")
        today = strategy_today(
            await schedules.schedule_of(uow.session, scope, strategy.id), settings.default_timezone, now
        )
        target = kpi_target(body, today, ["body"])
        kpi_id = await kpis.insert_kpi(
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
        strategy = await strategy_or_404(session, scope, strategy_id)
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
        strategy = await strategy_or_404(uow.session, scope, strategy_id, lock=True)
        kpi = await kpis.get_kpi(uow.session, scope, strategy_id, kpi_id)
        if kpi is None:
            raise not_found("KPI", kpi_id)
        values = {name: getattr(body, name) for name in body.model_fields_set}
        for required in ("name", "unit", "baseline", "baseline_date", "target", "target_date"):
            if required in values and values[required] is None:
                raise unprocessable(["body", required], f"{required} cannot be null")
        if (
            values.get("objective_id") is not None
            and await kpis.get_objective(uow.session, scope, strategy_id, values["objective_id"]) is None
        ):
            raise unprocessable(["body", "objective_id"], f"the strategy has no objective {values['objective_id']!r}")
        merged = {**kpi.__dict__, **values}
        try:
            KpiTarget(merged["baseline"], merged["baseline_date"], merged["target"], merged["target_date"])
        except ValueError as exc:
            raise unprocessable(["body"], str(exc)) from exc
        if values:
            await kpis.update_kpi(uow.session, scope, kpi_id, now, **values)
        return await _kpi_out(uow.session, scope, runtime, strategy, kpi_id)


@router.delete(
    "/strategies/{strategy_id}/kpis/{kpi_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["objectives and KPIs"],
    summary="Remove a KPI and its measurements (past review snapshots keep their figures)",
)
async def delete_kpi(strategy_id: StrategyId, kpi_id: ItemId, scope: Writer, runtime: Runtime) -> Response:
    async with runtime.unit_of_work() as uow:
        await strategy_or_404(uow.session, scope, strategy_id, lock=True)
        if await kpis.get_kpi(uow.session, scope, strategy_id, kpi_id) is None:
            raise not_found("KPI", kpi_id)
        await kpis.delete_kpi(uow.session, scope, kpi_id)
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
        strategy = await strategy_or_404(uow.session, scope, strategy_id)
        kpi = await kpis.get_kpi(uow.session, scope, strategy_id, kpi_id)
        if kpi is None:
            raise not_found("KPI", kpi_id)
        today = strategy_today(
            await schedules.schedule_of(uow.session, scope, strategy.id), settings.default_timezone, now
        )
        measured_on = body.measured_on or today
        if measured_on > today:
            raise unprocessable(["body", "measured_on"], f"measured_on {measured_on} is in the future (today {today})")
        if measured_on < kpi.baseline_date:
            raise unprocessable(
                ["body", "measured_on"], f"measured_on {measured_on} is before the baseline date {kpi.baseline_date}"
            )
        new = await kpis.record_measurement(uow.session, scope, kpi_id, measured_on, body.value, body.note, now)
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
        await strategy_or_404(uow.session, scope, strategy_id)
        if await kpis.get_kpi(uow.session, scope, strategy_id, kpi_id) is None:
            raise not_found("KPI", kpi_id)
        if not await kpis.delete_measurement(uow.session, scope, kpi_id, measured_on):
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
        strategy = await strategy_or_404(session, scope, strategy_id)
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
