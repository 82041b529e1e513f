"""The review clock: each strategy's reminders fire once per review date and lead time, on any number of replicas.

A schedule with something due (``next_reminder_at <= now``) is locked for the transaction (``FOR UPDATE SKIP
LOCKED``; SQLite serialises writers), ``domain.reminders.advance`` decides the one reminder to send, and its
firing is claimed as a unique ``schedule_fires`` row (``review:<schedule>`` for the due reminder,
``review-upcoming-14d:<schedule>``, ``review-overdue:<schedule>``) for the review date, so a replica that races
for it emits nothing. After an outage the backlog collapses into that one reminder, marked late.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from trellis_common.auth import Scope
from trellis_common.events import ContactRole, ReminderKind, ReviewDue
from trellis_common.logging import get_logger
from trellis_common.metrics import REMINDERS_FIRED
from trellis_common.repositories.schedule_fires import claim_fire
from trellis_common.runtime import ServiceRuntime
from trellis_common.scheduler import Scheduler
from trellis_common.settings import narrowed
from trellis_common.unit_of_work import UnitOfWork
from trellis_strategy import overview
from trellis_strategy.domain.cadence import InvalidCadence, InvalidTimeZone, ReviewCadence, time_zone
from trellis_strategy.domain.reminders import PlannedReminder, advance
from trellis_strategy.domain.schedule import series
from trellis_strategy.repositories import schedules, strategies
from trellis_strategy.settings import StrategySettings

log = get_logger(__name__)
# A schedule whose stored cadence can no longer be read is looked at again a day later, not on every tick.
_UNUSABLE_RETRY = timedelta(days=1)
# The scheduler is the service's own work: it keeps every cluster's schedules.
_ALL = Scope.everything("strategy-scheduler")


def fire_key(schedule_id: str, reminder: PlannedReminder) -> str:
    """The ``schedule_fires`` key of a reminder; with the review date it names it exactly once."""
    if reminder.kind is ReminderKind.DUE:
        return f"review:{schedule_id}"
    return f"review-{reminder.key}:{schedule_id}"


class ReviewDueJob:
    name = "review_due"

    async def run_due(self, runtime: ServiceRuntime, now: datetime) -> int:
        settings = narrowed(runtime.settings, StrategySettings)
        fired = 0
        while True:
            lateness, seen = await self._fire_batch(runtime, settings, now)
            for late in lateness:
                REMINDERS_FIRED.labels(settings.service_name, "review", str(late).lower()).inc()
            fired += len(lateness)
            # A short batch was the last one; a batch that fired nothing was lost to another replica.
            if seen < settings.review_batch_size or not lateness:
                return fired

    async def _fire_batch(
        self, runtime: ServiceRuntime, settings: StrategySettings, now: datetime
    ) -> tuple[list[bool], int]:
        lateness: list[bool] = []
        async with runtime.unit_of_work() as uow:
            due = await schedules.due_schedules(uow.session, _ALL, now, settings.review_batch_size)
            for schedule in due:
                late = await self._step(uow, settings, schedule, now)
                if late is not None:
                    lateness.append(late)
        return lateness, len(due)

    async def _step(
        self, uow: UnitOfWork, settings: StrategySettings, schedule: schedules.Schedule, now: datetime
    ) -> bool | None:
        """Advance ``schedule`` to ``now``; returns whether the reminder sent was late, or None if none was."""
        try:
            zone = time_zone(schedule.timezone)
            following = series(ReviewCadence.parse(schedule.cadence), schedule.anchor_at, schedule.timezone)
            step = advance(schedule.clock, schedule.policy, following, zone, now)
        except (InvalidCadence, InvalidTimeZone, ValueError) as exc:
            log.error(
                "review_schedule_unusable",
                strategy_id=schedule.strategy_id,
                cadence=schedule.cadence,
                timezone=schedule.timezone,
                error=str(exc),
            )
            await schedules.update_schedule(uow.session, _ALL, schedule.id, now, next_reminder_at=now + _UNUSABLE_RETRY)
            return None
        strategy = await strategies.get_strategy(uow.session, _ALL, schedule.strategy_id)
        active = strategy is not None and strategy.archived_at is None
        values = schedules.clock_values(step.clock, schedule.policy, zone, active=active)
        reminder = step.reminder
        late = reminder is not None and now - reminder.planned_at > settings.late_after
        # The state moves on even when another replica (or an earlier run) sent the reminder: it was sent.
        claimed = (
            reminder is not None
            and strategy is not None
            and active
            and await claim_fire(
                uow.session,
                fire_key(schedule.id, reminder),
                due_at=reminder.due_at,
                fired_at=now,
                late=late,
                note=f"{reminder.key}; stands for {step.folded} more" if step.folded else reminder.key,
            )
        )
        if not claimed or reminder is None or strategy is None:
            await schedules.update_schedule(uow.session, _ALL, schedule.id, now, **values)
            return None
        escalation = reminder.kind is ReminderKind.OVERDUE
        overdue_since, missed = _overdue_before(reminder, step.clock.overdue_since, step.clock.missed_reviews)
        uow.emit(
            ReviewDue(
                reminder_id=schedules.reminder_id(schedule.id, reminder.due_at, reminder.kind, reminder.lead_days),
                strategy_id=strategy.id,
                cluster_id=strategy.cluster_id,
                strategy_title=strategy.title,
                due_at=reminder.due_at,
                due_date=reminder.due_at.astimezone(zone).date(),
                kind=reminder.kind,
                late=late,
                fired_at=now,
                agenda=await overview.agenda(uow.session, _ALL, settings, strategy, schedule, now, zone),
                strategy_type=strategy.type,
                lead_days=reminder.lead_days,
                escalation=escalation,
                recipients_role=ContactRole.BOARD_MEMBER if escalation else ContactRole.CLUSTER_MANAGER,
                owner_contact_ids=strategy.owner_ids,
                overdue_since=overdue_since.astimezone(zone).date() if overdue_since else None,
                missed_reviews=missed,
            )
        )
        await schedules.update_schedule(
            uow.session, _ALL, schedule.id, now, **values, last_fired_due_at=reminder.due_at, last_fired_at=now
        )
        log.info(
            "review_reminder_fired",
            cluster_id=strategy.cluster_id,
            strategy_id=strategy.id,
            kind=reminder.kind.value,
            lead_days=reminder.lead_days,
            due_at=reminder.due_at.isoformat(),
            late=late,
            folded=step.folded,
            next_due_at=step.clock.next_due_at.isoformat(),
        )
        return late


def _overdue_before(
    reminder: PlannedReminder, overdue_since: datetime | None, missed: int
) -> tuple[datetime | None, int]:
    """The overdue spell as the reminder reports it: on its own due date a review is due, not yet missed."""
    if reminder.kind is not ReminderKind.DUE or overdue_since is None:
        return overdue_since, missed
    if overdue_since >= reminder.due_at:
        return None, 0
    return overdue_since, missed - 1


async def scheduler_worker(runtime: ServiceRuntime, stop: asyncio.Event) -> None:
    await Scheduler([ReviewDueJob()]).run(runtime, stop)
