"""Schedules made from the settings' defaults: the overall strategy the loop gives every cluster it hears of."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.auth import Scope
from trellis_strategy.domain.cadence import ReviewCadence, review_dates, time_zone
from trellis_strategy.domain.reminders import ReminderPolicy, reschedule
from trellis_strategy.domain.schedule import ScheduleFields, plan_schedule
from trellis_strategy.repositories import schedules, strategies
from trellis_strategy.schemas import ScheduleIn, to_cadence
from trellis_strategy.settings import StrategySettings


def default_fields(settings: StrategySettings, now: datetime) -> ScheduleFields:
    """A new schedule as configured: default cadence, zone, reminders and anchoring, starting now."""
    return plan_schedule(
        ReviewCadence.parse(settings.default_cadence),
        settings.default_timezone,
        anchor=now,
        now=now,
        anchor_mode=settings.default_anchor_mode,
        policy=settings.reminder_policy(),
    )


async def ensure_schedule(
    session: AsyncSession, scope: Scope, settings: StrategySettings, strategy: strategies.Strategy, now: datetime
) -> schedules.Schedule:
    """The strategy's schedule, created with the defaults if it has none."""
    schedule = await schedules.schedule_of(session, scope, strategy.id)
    if schedule is None:
        fields = default_fields(settings, now)
        await schedules.create_schedule(session, scope, strategy, fields, time_zone(fields.timezone), now)
        schedule = await schedules.schedule_of(session, scope, strategy.id)
        assert schedule is not None
    return schedule


async def ensure_overall(
    session: AsyncSession, scope: Scope, settings: StrategySettings, cluster_id: str, now: datetime
) -> tuple[strategies.Strategy, schedules.Schedule]:
    """The cluster's overall strategy and its schedule, created with the defaults if missing."""
    strategy = await strategies.ensure_overall_strategy(
        session, scope, cluster_id, settings.default_strategy_title, now
    )
    return strategy, await ensure_schedule(session, scope, settings, strategy, now)


class ScheduleRequest:
    """A requested schedule change, resolved against the current schedule and the defaults."""

    def __init__(
        self,
        body: ScheduleIn,
        current: schedules.Schedule | None,
        settings: StrategySettings,
        now: datetime,
    ) -> None:
        self.cadence = to_cadence(body.cadence)
        self.timezone = body.timezone or (current.timezone if current else settings.default_timezone)
        self.anchor = body.anchor_at or (current.anchor_at if current else now)
        self.anchor_mode = body.anchor_mode or (current.mode if current else settings.default_anchor_mode)
        lead_days = (
            body.lead_days
            if body.lead_days is not None
            else (current.lead_days if current else settings.default_lead_days)
        )
        if "escalate_after_days" in body.model_fields_set:
            escalate = body.escalate_after_days
        else:
            escalate = current.escalate_after_days if current else settings.default_escalate_after_days
        self.policy = ReminderPolicy(tuple(lead_days), escalate)
        self.now = now

    def plan(self) -> ScheduleFields:
        """Raises NoReviewDate when the rule has no date for this anchor, LeadTimeTooLong when an upcoming
        reminder would come before the previous review date (may take a moment: run in a thread)."""
        fields = plan_schedule(
            self.cadence, self.timezone, self.anchor, self.now, anchor_mode=self.anchor_mode, policy=self.policy
        )
        if self.policy.lead_days:
            dates = review_dates(self.cadence, self.anchor, fields.next_due_at, self.timezone, _GAP_SAMPLE)
            closest = min((b - a for a, b in itertools.pairwise(dates)), default=None)
            longest = self.policy.lead_days[0]
            if closest is not None and timedelta(days=longest) >= closest:
                raise LeadTimeTooLong(
                    f"a reminder {longest} days ahead would come before the previous review date (this cadence has "
                    f"reviews {closest.days} days apart); use fewer days"
                )
        return fields


class LeadTimeTooLong(ValueError):
    """An upcoming reminder that would fall before the previous review date: it could never be sent."""


# Enough dates to meet the shortest gap of any rule we accept (a year of a monthly rule's variations).
_GAP_SAMPLE = 13


async def apply_schedule(
    session: AsyncSession,
    scope: Scope,
    strategy: strategies.Strategy,
    fields: ScheduleFields,
    now: datetime,
) -> bool:
    """Create or change the strategy's schedule; True if it was created.

    A changed series (cadence, zone or anchor) moves the next date; an overdue spell stays on record until a
    review is recorded. Reminders and anchoring may change without moving a date that is due but not yet fired.
    """
    zone = time_zone(fields.timezone)
    if await schedules.create_schedule(session, scope, strategy, fields, zone, now):
        return True
    existing = await schedules.schedule_of(session, scope, strategy.id, lock=True)
    assert existing is not None
    same_series = (existing.cadence, existing.timezone, existing.anchor_at) == (
        fields.cadence,
        fields.timezone,
        fields.anchor_at,
    )
    clock = existing.clock if same_series else reschedule(existing.clock, fields.next_due_at, now)
    await schedules.update_schedule(
        session,
        scope,
        existing.id,
        now,
        cadence=fields.cadence,
        timezone=fields.timezone,
        anchor_at=fields.anchor_at,
        anchor_mode=fields.anchor_mode.value,
        lead_days=list(fields.policy.lead_days),
        escalate_after_days=fields.policy.escalate_after_days,
        **schedules.clock_values(clock, fields.policy, zone, active=strategy.archived_at is None),
    )
    return False


async def save_schedule(
    session: AsyncSession,
    scope: Scope,
    strategy: strategies.Strategy,
    title: str | None,
    fields: ScheduleFields,
    now: datetime,
) -> tuple[bool, strategies.Strategy, schedules.Schedule]:
    """Rename the strategy when asked, store its planned schedule; returns (created, strategy, schedule)."""
    if title and title != strategy.title:
        await strategies.update_strategy(session, scope, strategy.id, now, title=title)
    created = await apply_schedule(session, scope, strategy, fields, now)
    stored = await strategies.get_strategy(session, scope, strategy.id)
    schedule = await schedules.schedule_of(session, scope, strategy.id)
    assert stored is not None and schedule is not None
    return created, stored, schedule
