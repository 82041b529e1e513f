"""A review schedule as its owner decides it: cadence, time zone, anchor, and the next due date that follows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from trellis_strategy.domain.cadence import ReviewCadence, next_due


@dataclass(frozen=True)
class ScheduleFields:
    strategy_title: str
    cadence: str  # ReviewCadence.text
    timezone: str
    anchor_at: datetime
    next_due_at: datetime


def plan_schedule(cadence: ReviewCadence, timezone: str, strategy_title: str, anchor: datetime,
                  now: datetime) -> ScheduleFields:
    """The schedule's fields with its first review strictly after ``now``."""
    return ScheduleFields(
        strategy_title=strategy_title,
        cadence=cadence.text,
        timezone=timezone,
        anchor_at=anchor,
        next_due_at=next_due(cadence, anchor, now, timezone),
    )
