"""REST API of the strategy service, cluster level: the cluster's strategies, its default review schedule (that of
its overall strategy), the actions proposed for its reviews, and its calendar feed.

Reads need a reader of the cluster, changes a manager; a cluster outside the caller's scope answers 404 like one
that does not exist. The calendar feed is the exception: its secret token, not a bearer token, opens it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.app import ClusterId, CorrelationId, Runtime, not_found
from trellis_common.auth import Reader, Scope, Writer
from trellis_common.rate_limit import PublicLimit
from trellis_common.settings import narrowed
from trellis_common.text import INT4_MAX
from trellis_strategy import overview, planning, presenters
from trellis_strategy.domain.cadence import NoReviewDate, ReviewCadence, review_dates, time_zone
from trellis_strategy.domain.kpi import KpiTarget
from trellis_strategy.domain.reminders import AnchorMode
from trellis_strategy.domain.schedule import ScheduleFields
from trellis_strategy.domain.strategy import DEFAULT_TITLES
from trellis_strategy.ical import FeedReview, review_calendar
from trellis_strategy.repositories import actions, calendar_feeds, kpis, schedules, strategies
from trellis_strategy.repositories.shared import new_id
from trellis_strategy.schemas import (
    ActionPage,
    CalendarTokenOut,
    KpiIn,
    ScheduleIn,
    ScheduleOut,
    StrategyIn,
    StrategyList,
    StrategyOut,
    cadence_body,
)
from trellis_strategy.settings import StrategySettings

router = APIRouter()


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
    kpi_targets = [_target_of(kpi, today, ["body", "kpis", i]) for i, kpi in enumerate(body.kpis)]
    objective_targets = [
        [_target_of(kpi, today, ["body", "objectives", i, "kpis", j]) for j, kpi in enumerate(objective.kpis)]
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


def _target_of(kpi: KpiIn, today: date, loc: list[str | int]) -> KpiTarget:
    """The KPI's line from baseline to target; the baseline defaults to today (checked against the target date)."""
    try:
        return KpiTarget(kpi.baseline, kpi.baseline_date or today, kpi.target, kpi.target_date)
    except ValueError as exc:
        raise unprocessable(loc, str(exc)) from exc


# --- calendar feed -----------------------------------------------------------------------------------------


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@router.post(
    "/clusters/{cluster_id}/calendar-token",
    response_model=CalendarTokenOut,
    status_code=status.HTTP_201_CREATED,
    tags=["calendar feed"],
    summary="Issue the secret of the cluster's review calendar feed (replaces the previous one)",
)
async def issue_calendar_token(cluster_id: ClusterId, scope: Writer, runtime: Runtime) -> CalendarTokenOut:
    in_scope(scope, cluster_id)
    token = secrets.token_urlsafe(32)
    async with runtime.unit_of_work() as uow:
        await calendar_feeds.set_feed_token(uow.session, scope, cluster_id, _digest(token), runtime.clock.now())
    return CalendarTokenOut(
        cluster_id=cluster_id, token=token, path=f"/clusters/{cluster_id}/reviews.ics?token={token}"
    )


@router.delete(
    "/clusters/{cluster_id}/calendar-token",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["calendar feed"],
    summary="Revoke the cluster's calendar feed",
)
async def revoke_calendar_token(cluster_id: ClusterId, scope: Writer, runtime: Runtime) -> Response:
    async with runtime.unit_of_work() as uow:
        # Out of scope, the feed is simply not found: the same 404 as a cluster without one.
        revoked = await calendar_feeds.revoke_feed_token(uow.session, scope, cluster_id)
    if not revoked:
        raise not_found("calendar feed of cluster", cluster_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/clusters/{cluster_id}/reviews.ics",
    tags=["calendar feed"],
    summary="The cluster's coming strategy reviews as an iCalendar feed (subscribe with the secret URL)",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}, 403: {"description": "Unknown or revoked token"}},
)
async def calendar_feed(
    cluster_id: ClusterId,
    runtime: Runtime,
    token: Annotated[str, Query(min_length=1, max_length=128, description="The feed's secret")],
    _limit: PublicLimit,  # calendar apps poll; a flood or a guessing run gets 429
) -> Response:
    settings = narrowed(runtime.settings, StrategySettings)
    # No bearer token here: the secret opens this one cluster's feed, so the reads are scoped to that cluster.
    feed = Scope(f"calendar-feed:{cluster_id}", frozenset({cluster_id}))
    async with runtime.db.sessions() as session:
        stored = await calendar_feeds.feed_token_sha256(session, feed, cluster_id)
        # Compare digests in constant time; an unknown cluster answers like a wrong token (nothing to probe).
        if stored is None or not hmac.compare_digest(stored, _digest(token)):
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail="invalid or revoked calendar token")
        now = runtime.clock.now()
        reviews = await _feed_reviews(session, feed, settings, cluster_id, now)
    body = review_calendar(
        cluster_id,
        reviews,
        now=now,
        duration=timedelta(minutes=settings.calendar_event_minutes),
        default_timezone=settings.default_timezone,
    )
    return Response(
        content=body,
        media_type="text/calendar; charset=utf-8",
        headers={
            "Content-Disposition": 'inline; filename="strategy-reviews.ics"',
            "Cache-Control": "private, max-age=300",
            "Referrer-Policy": "no-referrer",
        },
    )


async def _feed_reviews(
    session: AsyncSession, scope: Scope, settings: StrategySettings, cluster_id: str, now: datetime
) -> list[FeedReview]:
    """The next reviews of each active strategy; the first is the schedule's next date."""
    active = await strategies.list_strategies(session, scope, cluster_id, include_archived=False)
    scheduled = await schedules.schedules_of(session, scope, [s.id for s in active])
    counts = await actions.open_action_counts(session, scope, [s.id for s in active])
    out: list[FeedReview] = []
    for strategy in active:
        schedule = scheduled.get(strategy.id)
        if schedule is None:
            continue
        views = await presenters.kpi_today(session, scope, settings, strategy, now)
        details = [f"Phase: {strategy.phase}.", _kpi_line(views), f"Open proposed actions: {counts[strategy.id]}."]
        if schedule.overdue_since is not None:
            details.append(f"Overdue since {schedule.overdue_since:%Y-%m-%d}: the last review date passed unreviewed.")
        dates = await asyncio.to_thread(
            review_dates,
            ReviewCadence.parse(schedule.cadence),
            schedule.anchor_at,
            schedule.next_due_at,
            schedule.timezone,
            settings.calendar_reviews,
        )
        for index, due in enumerate(dates):
            out.append(
                FeedReview(
                    strategy_id=strategy.id,
                    strategy_title=strategy.title,
                    strategy_type=strategy.type,
                    due_at=due,
                    timezone=schedule.timezone,
                    provisional=index > 0 and schedule.mode is AnchorMode.REVIEW_DATE,
                    details=details,
                )
            )
    return out


def _kpi_line(views: list[overview.KpiView]) -> str:
    if not views:
        return "KPIs: none yet."
    counts = Counter(view.assessment.status.value.replace("_", " ") for view in views)
    return f"KPIs: {len(views)} ({', '.join(f'{n} {word}' for word, n in sorted(counts.items()))})."
