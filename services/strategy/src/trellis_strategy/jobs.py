"""The review clock: a strategy review reminder fires once per due date, on any number of replicas.

Each due schedule is locked for the transaction (``FOR UPDATE SKIP LOCKED``; SQLite serialises writers) and
its firing is claimed as a unique ``(review:<schedule>, due time)`` row, so a replica that races for the same
due time emits nothing. The next due date is the first one after *now*, not after the missed one: after an
outage the backlog collapses into one late reminder.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from trellis_common.events import ReminderKind, ReviewAgenda, ReviewDue
from trellis_common.logging import get_logger
from trellis_common.metrics import REMINDERS_FIRED
from trellis_common.runtime import ServiceRuntime
from trellis_common.scheduler import Scheduler, claim_fire
from trellis_common.unit_of_work import UnitOfWork
from trellis_strategy import repository
from trellis_strategy.domain.cadence import InvalidCadence, InvalidTimeZone, ReviewCadence, next_due, time_zone
from trellis_strategy.settings import StrategySettings, strategy_settings

log = get_logger(__name__)
# A schedule whose stored cadence can no longer be read is looked at again a day later, not on every tick.
_UNUSABLE_RETRY = timedelta(days=1)


def review_key(schedule_id: str) -> str:
    return f"review:{schedule_id}"


class ReviewDueJob:
    name = "review_due"

    async def run_due(self, runtime: ServiceRuntime, now: datetime) -> int:
        settings = strategy_settings(runtime.settings)
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
            due = await repository.due_schedules(uow.session, now, settings.review_batch_size)
            for schedule in due:
                late = await self._fire(uow, settings, schedule, now)
                if late is not None:
                    lateness.append(late)
        return lateness, len(due)

    async def _fire(
        self, uow: UnitOfWork, settings: StrategySettings, schedule: repository.Schedule, now: datetime
    ) -> bool | None:
        """Fire ``schedule``'s due reminder; returns whether it was late, or None if it did not fire here."""
        due_at = schedule.next_due_at
        try:
            zone = time_zone(schedule.timezone)
            # Coalescing: after an outage the next date is the first one after now, not after due_at.
            following = next_due(ReviewCadence.parse(schedule.cadence), schedule.anchor_at, now, schedule.timezone)
        except (InvalidCadence, InvalidTimeZone) as exc:
            log.error("review_schedule_unusable", cluster_id=schedule.cluster_id, cadence=schedule.cadence,
                      timezone=schedule.timezone, error=str(exc))
            await repository.update_schedule(uow.session, schedule.id, now, next_due_at=now + _UNUSABLE_RETRY)
            return None
        late = now - due_at > settings.late_after
        if not await claim_fire(uow.session, review_key(schedule.id), due_at=due_at, fired_at=now, late=late):
            return None
        reminder = repository.reminder_id(schedule.id, due_at, ReminderKind.DUE)
        new_matches, members_with_gaps = await repository.take_new_matches(uow.session, schedule.cluster_id, reminder)
        actions = await repository.open_action_texts(uow.session, schedule.cluster_id, settings.agenda_max_actions)
        uow.emit(
            ReviewDue(
                reminder_id=reminder,
                strategy_id=schedule.strategy_id,
                cluster_id=schedule.cluster_id,
                strategy_title=schedule.strategy_title,
                due_at=due_at,
                due_date=due_at.astimezone(zone).date(),
                kind=ReminderKind.DUE,
                late=late,
                fired_at=now,
                agenda=ReviewAgenda(
                    new_matches=new_matches, members_with_gaps=members_with_gaps, proposed_actions=actions
                ),
            )
        )
        await repository.update_schedule(
            uow.session, schedule.id, now, next_due_at=following, last_fired_due_at=due_at, last_fired_at=now
        )
        log.info("review_due_fired", cluster_id=schedule.cluster_id, reminder_id=reminder,
                 due_at=due_at.isoformat(), late=late, next_due_at=following.isoformat())
        return late


async def scheduler_worker(runtime: ServiceRuntime, stop: asyncio.Event) -> None:
    await Scheduler([ReviewDueJob()]).run(runtime, stop)
