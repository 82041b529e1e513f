"""Which review reminder goes out now (pure, no I/O): lead-time reminders, the due reminder, the escalation.

For a review date D a schedule plans one ``upcoming`` reminder per lead time (D − n days on the cluster's wall
clock; 14 and 1 by default) and a ``due`` reminder at D. When D passes without a recorded review the strategy
is *overdue*; N days after the first missed date (``escalate_after_days``) one ``overdue`` reminder escalates
to the board, once per overdue spell. Recording a review ends the spell and sets the next review date, either
on the calendar series or counted from the day of the review.

The calendar moves on when a review date passes (the next date is the next one of the series), so reminders
keep coming each period while the missed review stays on record (``overdue_since``, ``missed_reviews``).

Coalescing: the state remembers the moment up to which every planned reminder has been dealt with
(``reminded_through``). A step looks at everything planned since then and sends one reminder at most: the most
pressing (overdue, then due, then upcoming; the latest of a kind). After an outage the backlog collapses into
that one reminder, which the caller marks late; the reminders it stands for are never sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from trellis_common.events import ReminderKind

DEFAULT_LEAD_DAYS = (14, 1)
MAX_LEAD_DAYS = 366
# A DAILY rule after years of downtime would walk thousands of dates; past this many, jump to now.
MAX_WALK = 1000

# The next review date strictly after a moment (the cadence's series; see domain.cadence.next_due).
Following = Callable[[datetime], datetime]

_PRESSURE = {ReminderKind.UPCOMING: 0, ReminderKind.DUE: 1, ReminderKind.OVERDUE: 2}


class AnchorMode(StrEnum):
    """Where the next review date comes from once a review is recorded."""

    CALENDAR = "calendar"  # the series from the schedule's anchor (quarterly on the 31st stays on month ends)
    REVIEW_DATE = "review_date"  # the series restarts at the review (reviewed 12 May → next 12 August)


@dataclass(frozen=True)
class ReminderPolicy:
    lead_days: tuple[int, ...] = DEFAULT_LEAD_DAYS
    escalate_after_days: int | None = 14  # None: never escalate

    def __post_init__(self) -> None:
        if len(set(self.lead_days)) != len(self.lead_days):
            raise ValueError("lead_days must not repeat a value")
        if any(not 1 <= days <= MAX_LEAD_DAYS for days in self.lead_days):
            raise ValueError(f"each lead time must be 1..{MAX_LEAD_DAYS} days (the due date itself always reminds)")
        if self.escalate_after_days is not None and not 1 <= self.escalate_after_days <= MAX_LEAD_DAYS:
            raise ValueError(f"escalate_after_days must be 1..{MAX_LEAD_DAYS}")
        object.__setattr__(self, "lead_days", tuple(sorted(self.lead_days, reverse=True)))


@dataclass(frozen=True)
class ReviewClock:
    """Where a schedule stands."""

    next_due_at: datetime  # the next review date of the series (UTC)
    reminded_through: datetime  # every reminder planned at or before this moment has been dealt with
    overdue_since: datetime | None = None  # the first review date that passed without a recorded review
    missed_reviews: int = 0  # review dates passed since then without a recorded review
    escalated: bool = False  # the board has been told about this overdue spell


@dataclass(frozen=True)
class PlannedReminder:
    kind: ReminderKind
    due_at: datetime  # the review date it is about (for ``overdue``: the first missed one)
    planned_at: datetime  # when it is meant to go out
    lead_days: int | None = None  # for ``upcoming``

    @property
    def key(self) -> str:
        """Which of a schedule's reminders for ``due_at`` this is (with the due date, unique per schedule)."""
        return f"{self.kind.value}-{self.lead_days}d" if self.lead_days is not None else self.kind.value


@dataclass(frozen=True)
class Step:
    reminder: PlannedReminder | None
    clock: ReviewClock
    folded: int = 0  # planned reminders the one sent stands for (a backlog after downtime)


def lead_instant(due_at: datetime, days: int, zone: ZoneInfo) -> datetime:
    """``days`` before ``due_at`` on the local wall clock (10:00 stays 10:00 across a daylight-saving change)."""
    local = due_at.astimezone(zone)
    return (local - timedelta(days=days)).astimezone(UTC)


def escalation_of(clock: ReviewClock, policy: ReminderPolicy) -> PlannedReminder | None:
    """The escalation still to come for the current overdue spell, if any."""
    if clock.overdue_since is None or clock.escalated or policy.escalate_after_days is None:
        return None
    planned = clock.overdue_since + timedelta(days=policy.escalate_after_days)
    return PlannedReminder(ReminderKind.OVERDUE, clock.overdue_since, planned)


def planned_for(due_at: datetime, policy: ReminderPolicy, zone: ZoneInfo) -> list[PlannedReminder]:
    """The upcoming and due reminders of one review date, earliest first."""
    out = [
        PlannedReminder(ReminderKind.UPCOMING, due_at, lead_instant(due_at, days, zone), days)
        for days in policy.lead_days
    ]
    out.append(PlannedReminder(ReminderKind.DUE, due_at, due_at))
    return out


def advance(clock: ReviewClock, policy: ReminderPolicy, following: Following, zone: ZoneInfo, now: datetime) -> Step:
    """Deal with everything planned up to ``now``: at most one reminder to send, and the new state."""
    if now <= clock.reminded_through:
        return Step(None, clock)  # nothing new (or a clock set back: never re-send)
    since = clock.reminded_through
    candidates: list[PlannedReminder] = []
    due = clock.next_due_at
    overdue_since, missed, escalated = clock.overdue_since, clock.missed_reviews, clock.escalated
    walked = 0
    while due <= now:
        candidates.extend(r for r in planned_for(due, policy, zone) if since < r.planned_at)
        if overdue_since is None:
            overdue_since, missed, escalated = due, 0, False
        missed += 1
        walked += 1
        due = following(due) if walked < MAX_WALK else following(now)
    candidates.extend(r for r in planned_for(due, policy, zone) if since < r.planned_at <= now)
    moved = ReviewClock(due, now, overdue_since, missed, escalated)
    escalation = escalation_of(moved, policy)
    if escalation is not None and escalation.planned_at <= now:
        candidates.append(escalation)
    if not candidates:
        return Step(None, moved)
    chosen = max(candidates, key=lambda r: (_PRESSURE[r.kind], r.planned_at))
    if chosen.kind is ReminderKind.OVERDUE:
        moved = replace(moved, escalated=True)
    return Step(chosen, moved, len(candidates) - 1)


def next_reminder_at(clock: ReviewClock, policy: ReminderPolicy, zone: ZoneInfo) -> datetime:
    """When the schedule next has something to send (always after ``reminded_through``)."""
    soonest_step = clock.reminded_through + timedelta(seconds=1)
    times = [
        r.planned_at for r in planned_for(clock.next_due_at, policy, zone) if r.planned_at > clock.reminded_through
    ]
    escalation = escalation_of(clock, policy)
    if escalation is not None:
        # An escalation is owed until sent, even one planned before reminded_through (after a reschedule).
        times.append(max(escalation.planned_at, soonest_step))
    # After a step the due date itself is always ahead; the fallback guards a hand-built state.
    return min(times, default=soonest_step)


def record_review(
    clock: ReviewClock,
    *,
    held_at: datetime,
    now: datetime,
    mode: AnchorMode,
    following: Following,
) -> tuple[ReviewClock, datetime]:
    """A review held at ``held_at`` closes the open period; returns the new state and the review date it closes.

    The period closed is the overdue one if there is one, else the coming one (a review held early counts for
    it). ``following`` is the series the next date comes from: the schedule's own for ``calendar``, a series
    starting at ``held_at`` for ``review_date``.
    """
    closed = clock.overdue_since or clock.next_due_at
    after = held_at if mode is AnchorMode.REVIEW_DATE else max(held_at, closed)
    return ReviewClock(following(after), max(clock.reminded_through, now)), closed


def reschedule(clock: ReviewClock, next_due_at: datetime, now: datetime) -> ReviewClock:
    """A new series (cadence, zone or anchor changed): the next date changes, an overdue spell stays on record."""
    return replace(clock, next_due_at=next_due_at, reminded_through=max(clock.reminded_through, now))
