"""On PostgreSQL: two replicas share the reminder work and each reminder is sent once."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from tests.conftest import NewDatabase
from tests.integration.surveys.conftest import START, Surveys, cluster_with_members, ok, start_surveys, surveys_runtime
from trellis_common.bus.memory import InMemoryBroker
from trellis_common.clock import ManualClock
from trellis_common.scheduler import Scheduler
from trellis_surveys.workers import ReminderJob


async def test_two_replicas_send_each_reminder_once(new_database: NewDatabase) -> None:
    url = await new_database("surveys")
    async for surveys in start_surveys(url, workers=False, reminder_batch_size=3):
        await run_with_replica(surveys, url)


async def run_with_replica(surveys: Surveys, url: str) -> None:
    cluster_id, _ = await cluster_with_members(surveys.client, 10)
    await ok(
        await surveys.client.post(
            f"/clusters/{cluster_id}/campaigns",
            json={
                "template_id": "digital-skills",
                "reminder_after_hours": 24,
                "max_reminders": 2,
                "closes_at": (START + timedelta(days=10)).isoformat(),
            },
        ),
        201,
    )
    other = surveys_runtime(
        url, InMemoryBroker(), workers=False, consume=False, relay=False, migrate_on_start=False, reminder_batch_size=3
    )
    await other.start()
    try:
        for day in (1, 2, 3):
            moment = surveys.move_clock(timedelta(hours=25))
            assert isinstance(other.clock, ManualClock)
            other.clock.set(moment)
            fired = await asyncio.gather(*(Scheduler([ReminderJob()]).tick(r) for r in (surveys.runtime, other)))
            assert sum(fired) == (10 if day < 3 else 0), (day, fired)
    finally:
        await other.stop()
    reminders = Counter((i.invitation_id, i.reminder) for i in await surveys.invitations() if i.reminder)
    assert len(reminders) == 20 and set(reminders.values()) == {1}
