"""The outbox relay: publishes committed outbox rows in order, then marks them sent.

Multi-replica safe: on PostgreSQL a transaction-scoped advisory lock lets one relay at a time publish,
which keeps per-key order (two relays claiming disjoint rows could reorder a key). Rows are claimed, not
tailed by id, so a row whose transaction committed late is still picked up. A crash after publishing and
before marking re-publishes the rows; consumers' inboxes make that harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from trellis_common.bus import EventBus, OutgoingMessage
from trellis_common.clock import Clock
from trellis_common.db import Database
from trellis_common.errors import PermanentError, is_transient
from trellis_common.failpoints import RELAY_AFTER_PUBLISH, Failpoints
from trellis_common.logging import get_logger
from trellis_common.metrics import EVENTS_PRODUCED, OUTBOX_BACKLOG, OUTBOX_FAILED, OUTBOX_OLDEST_AGE
from trellis_common.repositories import outbox

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

log = get_logger(__name__)
_SENT_ROW_RETENTION = timedelta(days=1)


def _message(row: Any) -> OutgoingMessage:
    return OutgoingMessage(row.topic, row.key, row.payload, [(n, v.encode()) for n, v in row.headers])


class OutboxRelay:
    def __init__(
        self,
        *,
        service: str,
        db: Database,
        bus: EventBus,
        clock: Clock,
        failpoints: Failpoints,
        batch_size: int = 200,
        poll_interval_s: float = 0.5,
        max_backoff_s: float = 30.0,
        wakeup: asyncio.Event | None = None,
    ) -> None:
        self.service = service
        self.db = db
        self.bus = bus
        self.clock = clock
        self.failpoints = failpoints
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.max_backoff_s = max_backoff_s
        self.wakeup = wakeup or asyncio.Event()  # set when outbox rows commit: polling is only the safety net
        self.running = False
        self.last_error: str | None = None

    async def publish_batch(self) -> int:
        """Publish up to one batch; returns how many rows went out."""
        async with self.db.transaction() as session:
            if self.db.dialect == "postgresql" and not await outbox.take_relay_lock(session):
                return 0
            rows = await outbox.claim_unsent(session, limit=self.batch_size)
            if not rows:
                return 0
            try:
                await self.bus.publish([_message(r) for r in rows])
            except PermanentError:
                rows = await self._publish_one_by_one(session, rows)
            for r in rows:  # before the next await: in one process, before a consumer logs handling it
                log.info("event_published", event_id=r.event_id, event_type=r.event_type, topic=r.topic)
            self.failpoints.hit(RELAY_AFTER_PUBLISH)
            await outbox.mark_sent(session, [r.id for r in rows], self.clock.now())
        for r in rows:
            EVENTS_PRODUCED.labels(self.service, r.event_type).inc()
        return len(rows)

    async def _publish_one_by_one(self, session: AsyncSession, rows: Sequence[Any]) -> list[Any]:
        """Find the rows the broker refuses for good, set them aside, and return the ones that went out."""
        published = []
        for row in rows:
            try:
                await self.bus.publish([_message(row)])
                published.append(row)
            except PermanentError as exc:
                await outbox.set_aside(session, row.id, at=self.clock.now(), error=str(exc))
                OUTBOX_FAILED.labels(self.service, row.event_type).inc()
                log.error("outbox_row_refused", event_id=row.event_id, event_type=row.event_type, error=str(exc))
        return published

    async def drain(self) -> int:
        """Publish until the outbox is empty (used at shutdown and by tests)."""
        total = 0
        while (sent := await self.publish_batch()) > 0:
            total += sent
        return total

    async def observe_backlog(self) -> None:
        async with self.db.transaction() as session:
            backlog, oldest = await outbox.backlog(session)
            await outbox.delete_sent_before(session, self.clock.now() - _SENT_ROW_RETENTION)
        OUTBOX_BACKLOG.labels(self.service).set(backlog)
        age = (self.clock.now() - oldest).total_seconds() if oldest is not None else 0.0
        OUTBOX_OLDEST_AGE.labels(self.service).set(max(0.0, age))

    async def run(self, stop: asyncio.Event) -> None:
        self.running = True
        backoff = self.poll_interval_s
        loops = 0
        try:
            while not stop.is_set():
                # Cleared before looking, not after: a commit that signals while this pass runs (after its
                # SELECT saw nothing) keeps the event set, so the wait below returns at once.
                self.wakeup.clear()
                try:
                    sent = await self.publish_batch()
                    if loops % 20 == 0:
                        await self.observe_backlog()
                    loops += 1
                    self.last_error = None
                    backoff = self.poll_interval_s
                except Exception as exc:
                    if not is_transient(exc):
                        raise
                    self.last_error = repr(exc)
                    log.warning("outbox_publish_failed", error=repr(exc), retry_in_s=backoff)
                    sent = 0
                    backoff = min(backoff * 2, self.max_backoff_s)
                if sent:
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wakeup.wait(), timeout=backoff)
        finally:
            self.running = False
