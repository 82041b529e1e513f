"""Routes of a cluster's review calendar feed: its secret token, not a bearer token, opens the feed."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections import Counter
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, HTTPException, Query, Response, status

from trellis_common.app import ClusterId, Runtime, not_found
from trellis_common.auth import Scope, Writer
from trellis_common.rate_limit import PublicLimit
from trellis_common.settings import narrowed
from trellis_strategy import overview, presenters
from trellis_strategy.api.shared import in_scope
from trellis_strategy.domain.cadence import ReviewCadence, review_dates
from trellis_strategy.domain.reminders import AnchorMode
from trellis_strategy.ical import FeedReview, review_calendar
from trellis_strategy.repositories import actions, calendar_feeds, schedules, strategies
from trellis_strategy.schemas import CalendarTokenOut
from trellis_strategy.settings import StrategySettings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

router = APIRouter()


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
