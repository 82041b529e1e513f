"""One database transaction plus the events it causes (the write side of the transactional outbox)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.catalogue import EventSpec, spec_for_model
from trellis_common.clock import Clock
from trellis_common.envelope import CloudEvent, to_binary
from trellis_common.events import EventData
from trellis_common.repositories import outbox
from trellis_common.repositories.wakeups import notify
from trellis_common.settings import ServiceSettings
from trellis_common.wakeups import OUTBOX


@dataclass(frozen=True)
class EventFactory:
    """Builds envelopes the same way for REST calls, handlers and schedules."""

    source: str
    topic_prefix: str
    clock: Clock


@dataclass
class UnitOfWork:
    session: AsyncSession
    factory: EventFactory
    cause: CloudEvent | None = None
    correlation_id: str | None = None
    settings: ServiceSettings = field(default_factory=ServiceSettings)
    emitted: list[CloudEvent] = field(default_factory=list)
    wakes: set[str] = field(default_factory=set)  # workers to wake when the transaction commits
    _rows: list[dict[str, object]] = field(default_factory=list)

    @property
    def now(self) -> datetime:
        return self.factory.clock.now()

    def wake(self, signal: str) -> None:
        """Wake the workers waiting on ``signal`` (in every process) once this transaction commits."""
        self.wakes.add(signal)

    def emit(self, data: EventData, *, subject: str | None = None) -> CloudEvent:
        """Queue an event; it is written to the outbox in this transaction and published after commit."""
        spec = spec_for_model(type(data))
        key = str(getattr(data, spec.key_field))
        return self._queue(spec, key, data.model_dump(mode="json"), subject or key)

    def emit_tombstone(self, spec: EventSpec, key: str, *, subject: str | None = None) -> CloudEvent:
        """A null-valued event on a compacted topic: consumers erase what they keep for ``key``."""
        if not spec.compacted:
            raise ValueError(f"{spec.name} is not a compacted topic; tombstones make no sense there")
        return self._queue(spec, key, None, subject or key)

    def forward(self, event: CloudEvent, spec: EventSpec, key: str) -> CloudEvent:
        """Queue an event another system produced, keeping its id, source and time (the HTTP ingress)."""
        if event.correlationid is None:
            event = event.model_copy(update={"correlationid": event.id})
        self._append(event, spec, key)
        return event

    def _queue(self, spec: EventSpec, key: str, data: dict[str, object] | None, subject: str) -> CloudEvent:
        event_id = str(uuid.uuid4())
        correlation = self.correlation_id or (self.cause.correlationid if self.cause else None) or event_id
        event = CloudEvent(
            id=event_id,
            source=self.factory.source,
            type=spec.type,
            time=self.factory.clock.now(),
            subject=subject,
            correlationid=correlation,
            causationid=self.cause.id if self.cause else None,
            traceparent=self.cause.traceparent if self.cause else None,
            data=data,
        )
        self._append(event, spec, key)
        return event

    def _append(self, event: CloudEvent, spec: EventSpec, key: str) -> None:
        headers, payload = to_binary(event)
        self._rows.append(
            {
                "event_id": event.id,
                "event_type": event.type,
                "topic": spec.topic(self.factory.topic_prefix),
                "key": key,
                "headers": [[name, value.decode()] for name, value in headers],
                "payload": payload,
                "created_at": self.factory.clock.now(),
            }
        )
        self.emitted.append(event)

    async def flush_outbox(self) -> None:
        await flush_outboxes([self])


async def flush_outboxes(units: Iterable[UnitOfWork]) -> set[str]:
    """Before the commit of units of work sharing one session: their outbox rows in one statement, and one
    NOTIFY per signal to wake (PostgreSQL sends it on commit). Returns the signals, to fire in-process after."""
    units = list(units)
    rows = [row for unit in units for row in unit._rows]
    signals = {signal for unit in units for signal in unit.wakes}
    if rows:
        await outbox.enqueue(units[0].session, rows)
        signals.add(OUTBOX)
    for unit in units:
        unit._rows.clear()
    if signals:
        await notify(units[0].session, signals)
    return signals
