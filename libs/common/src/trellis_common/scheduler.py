"""One scheduling mechanism for every service: due work fires at most once per due time.

A job looks for due items under its own row locks (``FOR UPDATE SKIP LOCKED``) and records each firing as a
unique ``(schedule_key, due_at)`` row (``repositories.schedule_fires.claim_fire``); a second replica that races
for the same due time inserts nothing and emits nothing. Jobs coalesce a backlog after downtime themselves (fire
once, late, then move on).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from trellis_common.errors import is_transient
from trellis_common.logging import get_logger

if TYPE_CHECKING:
    from trellis_common.runtime import ServiceRuntime

log = get_logger(__name__)


class ScheduledJob(Protocol):
    name: str

    async def run_due(self, runtime: ServiceRuntime, now: datetime) -> int:
        """Fire what is due at ``now``; returns how many fired."""
        ...


class Scheduler:
    def __init__(self, jobs: list[ScheduledJob]) -> None:
        self.jobs = jobs

    async def tick(self, runtime: ServiceRuntime) -> int:
        fired = 0
        for job in self.jobs:
            fired += await job.run_due(runtime, runtime.clock.now())
        return fired

    async def run(self, runtime: ServiceRuntime, stop: asyncio.Event) -> None:
        interval = runtime.settings.scheduler_interval_s
        wakeup = runtime.wakeup_signal()
        while not stop.is_set():
            # Cleared before the tick, so a clock move during the tick is not lost.
            wakeup.clear()
            try:
                await self.tick(runtime)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                log.warning("scheduler_tick_failed", error=repr(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wakeup.wait(), timeout=interval)
