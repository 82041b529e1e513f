"""Which reminder goes out when: examples for the rules, and properties checked against a plan computed here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trellis_common.events import ReminderKind
from trellis_strategy.domain.cadence import ReviewCadence
from trellis_strategy.domain.reminders import (
    AnchorMode,
    PlannedReminder,
    ReminderPolicy,
    ReviewClock,
    advance,
    lead_instant,
    next_reminder_at,
    record_review,
    reschedule,
)
from trellis_strategy.domain.schedule import series

UTC_ZONE = ZoneInfo("UTC")
BRUSSELS = ZoneInfo("Europe/Brussels")
START = datetime(2025, 1, 31, 9, 0, tzinfo=UTC)  # 10:00 in Brussels
QUARTERLY = series(ReviewCadence.quarterly(), START, "Europe/Brussels")
FIRST_DUE = datetime(2025, 4, 30, 8, 0, tzinfo=UTC)  # 10:00 CEST
POLICY = ReminderPolicy()


def fresh() -> ReviewClock:
    return ReviewClock(next_due_at=FIRST_DUE, reminded_through=START)


def what(reminder: PlannedReminder | None) -> tuple[ReminderKind, datetime, int | None] | None:
    return None if reminder is None else (reminder.kind, reminder.due_at, reminder.lead_days)


# --- examples -----------------------------------------------------------------------------------------------


def test_lead_times_are_counted_on_the_wall_clock() -> None:
    # 31 October 10:00 CET; 14 days earlier is 17 October 10:00 CEST, one hour less in UTC.
    due = datetime(2025, 10, 31, 9, 0, tzinfo=UTC)
    assert lead_instant(due, 14, BRUSSELS) == datetime(2025, 10, 17, 8, 0, tzinfo=UTC)
    assert lead_instant(due, 14, UTC_ZONE) == datetime(2025, 10, 17, 9, 0, tzinfo=UTC)


def test_a_quarter_of_reminders_in_order() -> None:
    clock = fresh()
    assert next_reminder_at(clock, POLICY, BRUSSELS) == datetime(2025, 4, 16, 8, 0, tzinfo=UTC)
    moments = [
        (datetime(2025, 4, 16, 8, 0, tzinfo=UTC), (ReminderKind.UPCOMING, FIRST_DUE, 14)),
        (datetime(2025, 4, 29, 8, 0, tzinfo=UTC), (ReminderKind.UPCOMING, FIRST_DUE, 1)),
        (FIRST_DUE, (ReminderKind.DUE, FIRST_DUE, None)),
        (FIRST_DUE + timedelta(days=14), (ReminderKind.OVERDUE, FIRST_DUE, None)),
    ]
    for moment, expected in moments:
        quiet = advance(clock, POLICY, QUARTERLY, BRUSSELS, moment - timedelta(seconds=1))
        assert quiet.reminder is None
        step = advance(quiet.clock, POLICY, QUARTERLY, BRUSSELS, moment)
        assert what(step.reminder) == expected
        assert step.folded == 0
        clock = step.clock
        assert next_reminder_at(clock, POLICY, BRUSSELS) > moment
    assert clock == ReviewClock(
        next_due_at=datetime(2025, 7, 31, 8, 0, tzinfo=UTC),
        reminded_through=FIRST_DUE + timedelta(days=14),
        overdue_since=FIRST_DUE,
        missed_reviews=1,
        escalated=True,
    )
    # The board heard once; the next quarter's reminders go to the managers.
    assert next_reminder_at(clock, POLICY, BRUSSELS) == datetime(2025, 7, 17, 8, 0, tzinfo=UTC)


def test_after_an_outage_one_reminder_stands_for_the_backlog() -> None:
    nine_months = datetime(2025, 10, 31, 12, 0, tzinfo=UTC)
    step = advance(fresh(), POLICY, QUARTERLY, BRUSSELS, nine_months)
    # 3 review dates (each with 2 lead-time reminders) and the escalation: the escalation goes out.
    assert what(step.reminder) == (ReminderKind.OVERDUE, FIRST_DUE, None)
    assert step.folded == 9
    assert step.clock.missed_reviews == 3
    assert step.clock.next_due_at == datetime(2026, 1, 31, 9, 0, tzinfo=UTC)
    assert advance(step.clock, POLICY, QUARTERLY, BRUSSELS, nine_months + timedelta(hours=1)).reminder is None


def test_without_escalation_the_latest_due_reminder_stands_for_the_backlog() -> None:
    quiet = ReminderPolicy(lead_days=(14, 1), escalate_after_days=None)
    step = advance(fresh(), quiet, QUARTERLY, BRUSSELS, datetime(2025, 8, 1, tzinfo=UTC))
    assert what(step.reminder) == (ReminderKind.DUE, datetime(2025, 7, 31, 8, 0, tzinfo=UTC), None)
    assert step.folded == 5


def test_a_jump_over_the_lead_times_sends_the_nearest_one() -> None:
    step = advance(fresh(), POLICY, QUARTERLY, BRUSSELS, datetime(2025, 4, 29, 20, 0, tzinfo=UTC))
    assert what(step.reminder) == (ReminderKind.UPCOMING, FIRST_DUE, 1)
    assert step.folded == 1


def test_a_clock_set_back_sends_nothing_again() -> None:
    step = advance(fresh(), POLICY, QUARTERLY, BRUSSELS, FIRST_DUE)
    assert advance(step.clock, POLICY, QUARTERLY, BRUSSELS, FIRST_DUE - timedelta(days=2)) == type(step)(
        None, step.clock
    )


@pytest.mark.parametrize(
    ("held_at", "mode", "closed", "next_due"),
    [
        # Held early: it counts for the coming date; the calendar's next date follows that one.
        (datetime(2025, 4, 20, 9, 0, tzinfo=UTC), AnchorMode.CALENDAR, FIRST_DUE, datetime(2025, 7, 31, 8, tzinfo=UTC)),
        # Held late (overdue): the overdue date is closed, the series' next date stays.
        (datetime(2025, 5, 6, 9, 0, tzinfo=UTC), AnchorMode.CALENDAR, FIRST_DUE, datetime(2025, 7, 31, 8, tzinfo=UTC)),
        # Anchored to the review: one period after it, at its time of day.
        (
            datetime(2025, 5, 6, 12, 0, tzinfo=UTC),
            AnchorMode.REVIEW_DATE,
            FIRST_DUE,
            datetime(2025, 8, 6, 12, tzinfo=UTC),
        ),
    ],
)
def test_recording_a_review(held_at: datetime, mode: AnchorMode, closed: datetime, next_due: datetime) -> None:
    clock = advance(fresh(), POLICY, QUARTERLY, BRUSSELS, held_at).clock
    following = QUARTERLY if mode is AnchorMode.CALENDAR else series(ReviewCadence.quarterly(), held_at, "UTC")
    reviewed, answered = record_review(clock, held_at=held_at, now=held_at, mode=mode, following=following)
    assert (answered, reviewed.next_due_at) == (closed, next_due)
    assert (reviewed.overdue_since, reviewed.missed_reviews, reviewed.escalated) == (None, 0, False)
    # No escalation for a review that was held.
    later = advance(reviewed, POLICY, QUARTERLY, BRUSSELS, FIRST_DUE + timedelta(days=20))
    assert later.reminder is None or later.reminder.kind is not ReminderKind.OVERDUE


def test_a_new_series_keeps_the_overdue_spell_and_an_owed_escalation() -> None:
    overdue = advance(fresh(), POLICY, QUARTERLY, BRUSSELS, FIRST_DUE + timedelta(hours=1)).clock
    later = FIRST_DUE + timedelta(days=20)  # the escalation (14 days) has not been looked at yet
    moved = reschedule(overdue, datetime(2025, 6, 1, 8, 0, tzinfo=UTC), later)
    assert (moved.overdue_since, moved.reminded_through) == (FIRST_DUE, later)
    assert next_reminder_at(moved, POLICY, BRUSSELS) == later + timedelta(seconds=1)
    step = advance(moved, POLICY, QUARTERLY, BRUSSELS, later + timedelta(minutes=1))
    assert what(step.reminder) == (ReminderKind.OVERDUE, FIRST_DUE, None)


@pytest.mark.parametrize(
    ("leads", "escalate", "message"),
    [
        ((14, 14), 14, "must not repeat"),
        ((0,), 14, "1..366"),
        ((367,), 14, "1..366"),
        ((14,), 0, "escalate_after_days must be 1..366"),
    ],
)
def test_policies_are_checked(leads: tuple[int, ...], escalate: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ReminderPolicy(leads, escalate)


def test_lead_days_are_kept_longest_first() -> None:
    assert ReminderPolicy((1, 30, 7)).lead_days == (30, 7, 1)


# --- properties ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """A synthetic schedule: review dates every ``period`` days after ``start``, never reviewed."""

    start: datetime
    period: timedelta
    policy: ReminderPolicy

    def following(self, after: datetime) -> datetime:
        k = (after - self.start) // self.period + 1
        return self.start + k * self.period

    def reminders_until(self, end: datetime) -> list[PlannedReminder]:
        """Every reminder this plan has for moments in (start, end], computed without the domain code."""
        out: list[PlannedReminder] = []
        first = self.start + self.period
        due = first
        while due - timedelta(days=max(self.policy.lead_days, default=0)) <= end:
            for days in self.policy.lead_days:
                at = due - timedelta(days=days)
                if self.start < at <= end:
                    out.append(PlannedReminder(ReminderKind.UPCOMING, due, at, days))
            if due <= end:
                out.append(PlannedReminder(ReminderKind.DUE, due, due))
            due += self.period
        if self.policy.escalate_after_days is not None:
            at = first + timedelta(days=self.policy.escalate_after_days)
            if at <= end:
                out.append(PlannedReminder(ReminderKind.OVERDUE, first, at))
        return out


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    period = draw(st.integers(10, 120))
    leads = draw(st.lists(st.integers(1, period - 1), max_size=3, unique=True))
    escalate = draw(st.one_of(st.none(), st.integers(1, 3 * period)))
    start = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=draw(st.integers(0, 60 * 24 * 365)))
    return Plan(start, timedelta(days=period), ReminderPolicy(tuple(leads), escalate))


PRESSURE = {ReminderKind.UPCOMING: 0, ReminderKind.DUE: 1, ReminderKind.OVERDUE: 2}


def key(reminder: PlannedReminder) -> tuple[ReminderKind, datetime, int | None]:
    return reminder.kind, reminder.due_at, reminder.lead_days


@settings(max_examples=150, deadline=None)
@given(plan=plans(), gaps=st.lists(st.integers(1, 60 * 24 * 200), min_size=1, max_size=25))
def test_any_sequence_of_ticks_sends_each_reminder_at_most_once_and_never_loses_a_window(
    plan: Plan, gaps: list[int]
) -> None:
    """Whatever the ticks (seconds apart or months), every window with something planned sends exactly one
    reminder: the most pressing one planned in it; nothing is sent twice, early, or from an earlier window."""
    clock = ReviewClock(plan.following(plan.start), plan.start)
    planned = plan.reminders_until(plan.start + timedelta(minutes=sum(gaps)))
    sent: list[PlannedReminder] = []
    now = plan.start
    for gap in gaps:
        previous, now = now, now + timedelta(minutes=gap)
        step = advance(clock, plan.policy, plan.following, UTC_ZONE, now)
        window = [r for r in planned if previous < r.planned_at <= now]
        if window:
            assert step.reminder is not None
            best = max(window, key=lambda r: (PRESSURE[r.kind], r.planned_at))
            assert key(step.reminder) == key(best)
            assert step.folded == len(window) - 1
            sent.append(step.reminder)
        else:
            assert step.reminder is None
        clock = step.clock
        assert clock.reminded_through == now
        assert clock.next_due_at > now
        assert next_reminder_at(clock, plan.policy, UTC_ZONE) > now
    assert len({key(r) for r in sent}) == len(sent)
    assert sum(r.kind is ReminderKind.OVERDUE for r in sent) <= 1  # never reviewed: one spell, one escalation


@settings(max_examples=100, deadline=None)
@given(plan=plans(), horizon_days=st.integers(30, 800))
def test_a_scheduler_that_looks_whenever_something_is_due_sends_every_reminder_on_time(
    plan: Plan, horizon_days: int
) -> None:
    """Ticking at ``next_reminder_at`` (what the job does) meets every planned reminder at its moment."""
    end = plan.start + timedelta(days=horizon_days)
    clock = ReviewClock(plan.following(plan.start), plan.start)
    sent: list[tuple[PlannedReminder, datetime]] = []
    while (moment := next_reminder_at(clock, plan.policy, UTC_ZONE)) <= end:
        step = advance(clock, plan.policy, plan.following, UTC_ZONE, moment)
        if step.reminder is not None:
            sent.append((step.reminder, moment))
        clock = step.clock
    expected = plan.reminders_until(end)
    by_moment: dict[datetime, list[PlannedReminder]] = {}
    for reminder in expected:
        by_moment.setdefault(reminder.planned_at, []).append(reminder)
    # Reminders planned for the very same moment collapse into the most pressing one.
    wanted = sorted(
        (max(group, key=lambda r: PRESSURE[r.kind]) for group in by_moment.values()), key=lambda r: r.planned_at
    )
    assert [key(r) for r, _ in sent] == [key(r) for r in wanted]
    assert all(reminder.planned_at == moment for reminder, moment in sent)


@settings(max_examples=100, deadline=None)
@given(
    plan=plans(),
    held_after=st.integers(0, 60 * 24 * 400),
    mode=st.sampled_from(list(AnchorMode)),
)
def test_a_recorded_review_ends_the_overdue_spell_and_sets_a_later_date(
    plan: Plan, held_after: int, mode: AnchorMode
) -> None:
    held_at = plan.start + timedelta(minutes=held_after)
    clock = advance(ReviewClock(plan.following(plan.start), plan.start), plan.policy, plan.following, UTC_ZONE, held_at)
    restart = Plan(held_at, plan.period, plan.policy)
    following = plan.following if mode is AnchorMode.CALENDAR else restart.following
    reviewed, closed = record_review(clock.clock, held_at=held_at, now=held_at, mode=mode, following=following)
    assert (reviewed.overdue_since, reviewed.missed_reviews, reviewed.escalated) == (None, 0, False)
    assert reviewed.next_due_at > held_at
    assert closed == (clock.clock.overdue_since or clock.clock.next_due_at)
    if mode is AnchorMode.REVIEW_DATE:
        assert reviewed.next_due_at == held_at + plan.period
    else:
        assert reviewed.next_due_at > closed
        assert (reviewed.next_due_at - plan.start) % plan.period == timedelta(0)  # still on the calendar
