"""The surveys worker: reminders to members who have not answered a campaign yet.

Reminders run on the common scheduler. Each (invitation, reminder number) is claimed as a unique fire, so
any number of replicas send each reminder once; a reminder that fell due during downtime fires once, late,
and the next one is counted from then (no backlog of copies).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from trellis_common.auth import Scope
from trellis_common.logging import get_logger
from trellis_common.metrics import REMINDERS_FIRED
from trellis_common.repositories.schedule_fires import claim_fire
from trellis_common.runtime import ServiceRuntime
from trellis_common.scheduler import Scheduler
from trellis_common.settings import narrowed
from trellis_common.unit_of_work import UnitOfWork
from trellis_surveys.campaigns import invitation_event
from trellis_surveys.repositories.invitations import claim_due_reminders, set_next_reminder
from trellis_surveys.repositories.templates import get_template
from trellis_surveys.settings import SurveysSettings

# Reminders read any cluster's campaign template (the job runs for every cluster).
_JOB_SCOPE = Scope.everything("survey-reminders")

log = get_logger(__name__)


def reminder_key(invitation_id: str, number: int) -> str:
    return f"survey-reminder:{invitation_id}:{number}"


class ReminderJob:
    name = "survey_reminders"

    async def run_due(self, runtime: ServiceRuntime, now: datetime) -> int:
        settings = narrowed(runtime.settings, SurveysSettings)
        fired = 0
        while True:
            sent, seen = await self._batch(runtime, settings, now)
            fired += sent
            if seen < settings.reminder_batch_size or not sent:
                return fired

    async def _batch(self, runtime: ServiceRuntime, settings: SurveysSettings, now: datetime) -> tuple[int, int]:
        sent = 0
        async with runtime.unit_of_work() as uow:
            due = await claim_due_reminders(uow.session, now, settings.reminder_batch_size)
            for row in due:
                sent += await self._remind(uow, settings, row, now)
        return sent, len(due)

    async def _remind(self, uow: UnitOfWork, settings: SurveysSettings, row: dict[str, Any], now: datetime) -> int:
        number = row["reminders_sent"] + 1
        if number > row["max_reminders"] or now >= row["closes_at"]:
            await set_next_reminder(uow.session, row["id"], row["reminders_sent"], None)  # nothing more to send
            return 0
        late = now - row["next_reminder_at"] > timedelta(seconds=row["reminder_after_s"])
        if not await claim_fire(uow.session, reminder_key(row["id"], number), row["next_reminder_at"], now, late=late):
            return 0
        campaign = {
            "id": row["campaign_id"],
            "cluster_id": row["cluster_id"],
            "title": row["title"],
            "theme": row["theme"],
            "closes_at": row["closes_at"],
        }
        stored = await get_template(uow.session, _JOB_SCOPE, row["template_id"], row["template_version"])
        uow.emit(invitation_event(settings, campaign, row, number, stored.template if stored else None))
        following = now + timedelta(seconds=row["reminder_after_s"]) if number < row["max_reminders"] else None
        if following is not None and following >= row["closes_at"]:
            following = None
        await set_next_reminder(uow.session, row["id"], number, following)
        REMINDERS_FIRED.labels(settings.service_name, "survey", str(late).lower()).inc()
        log.info("survey_reminder_sent", invitation_id=row["id"], reminder=number, late=late)
        return 1


async def scheduler_worker(runtime: ServiceRuntime, stop: asyncio.Event) -> None:
    await Scheduler([ReminderJob()]).run(runtime, stop)
