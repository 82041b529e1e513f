"""A review schedule as its owner decides it: cadence, time zone, anchor, reminders, and the next due date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from trellis_strategy.domain.cadence import ReviewCadence, next_due
from trellis_strategy.domain.reminders import AnchorMode, Following, ReminderPolicy


@dataclass(frozen=True)
class ScheduleFields:
    cadence: str  # ReviewCadence.text
    timezone: str
    anchor_at: datetime
    anchor_mode: AnchorMode
    policy: ReminderPolicy
    next_due_at: datetime


def plan_schedule(
    cadence: ReviewCadence,
    timezone: str,
    anchor: datetime,
    now: datetime,
    *,
    anchor_mode: AnchorMode = AnchorMode.CALENDAR,
    policy: ReminderPolicy | None = None,
) -> ScheduleFields:
    """The schedule's fields with its first review strictly after ``now``."""
    return ScheduleFields(
        cadence=cadence.text,
        timezone=timezone,
        anchor_at=anchor,
        anchor_mode=anchor_mode,
        policy=policy or ReminderPolicy(),
        next_due_at=next_due(cadence, anchor, now, timezone),
    )


def series(cadence: ReviewCadence, anchor: datetime, timezone: str) -> Following:
    """The review date after a moment, for the series that starts at ``anchor``."""

    def following(after: datetime) -> datetime:
        return next_due(cadence, anchor, after, timezone)

    return following
