"""A running service: database, bus, outbox relay, consumer and background workers, started and stopped
as one. The FastAPI app (``app.py``) wraps it in distributed mode; embedded mode runs five of them."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import structlog
from fastapi import APIRouter
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.bus import EventBus
from trellis_common.bus.kafka import KafkaBus
from trellis_common.bus.memory import InMemoryBus
from trellis_common.catalogue import CATALOGUE
from trellis_common.clock import Clock, ManualClock, ShiftedClock, SystemClock
from trellis_common.consumer import BatchHandler, EventConsumer, Handler
from trellis_common.db import Database
from trellis_common.envelope import CloudEvent
from trellis_common.errors import is_transient
from trellis_common.failpoints import Failpoints
from trellis_common.logging import get_logger
from trellis_common.relay import OutboxRelay
from trellis_common.settings import ServiceSettings
from trellis_common.subscriptions import BatchSubscription, Subscription
from trellis_common.unit_of_work import EventFactory, UnitOfWork, flush_outboxes
from trellis_common.wakeups import OUTBOX, WORKERS, Wakeups, listen

log = get_logger(__name__)
Worker = Callable[["ServiceRuntime", asyncio.Event], Awaitable[None]]


@dataclass
class ServiceDefinition:
    """Everything that makes a service itself; the rest is common machinery."""

    name: str
    title: str
    description: str
    metadata: MetaData
    migrations: str  # alembic script location, e.g. "trellis_skills:migrations"
    routers: list[APIRouter] = field(default_factory=list)
    # Its event handlers (``@handles``, ``@handles_batch``, ``@handles_records``): each names its event type.
    consumes: list[Subscription | BatchSubscription] = field(default_factory=list)
    workers: list[Worker] = field(default_factory=list)
    settings_class: type[ServiceSettings] = ServiceSettings
    # Consumes only to keep a small projection (e.g. which clusters exist) while its replicas serve HTTP: a replica
    # without a partition is still ready, and it scales with its HTTP load, not with consumer lag.
    projection_only: bool = False

    def __post_init__(self) -> None:
        types = [subscription.event_type for subscription in self.consumes]
        if len(types) != len(set(types)):
            raise ValueError(f"{self.name}: two handlers for one event type in {types}")

    @property
    def handlers(self) -> dict[str, Handler]:
        return {s.event_type: s for s in self.consumes if isinstance(s, Subscription)}

    @property
    def batch_handlers(self) -> dict[str, BatchHandler]:
        """Handlers of a batch's consecutive events of one type at once."""
        return {s.event_type: s for s in self.consumes if isinstance(s, BatchSubscription)}

    @property
    def consumed_types(self) -> list[str]:
        """Every event type the service consumes, by a handler or a batch handler, in the catalogue's order."""
        consumed = {*self.handlers, *self.batch_handlers}
        return [spec.type for spec in CATALOGUE if spec.type in consumed]


def make_bus(settings: ServiceSettings) -> EventBus:
    if settings.bus == "memory":
        return InMemoryBus()
    return KafkaBus(
        settings.kafka_bootstrap_servers,
        settings.kafka_client_id or f"trellis-{settings.service_name}",
        session_timeout_ms=settings.kafka_session_timeout_ms,
        batch_bytes=settings.kafka_batch_bytes,
        security=settings.client_options(),
    )


class ServiceRuntime:
    def __init__(
        self,
        definition: ServiceDefinition,
        settings: ServiceSettings,
        *,
        bus: EventBus | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.definition = definition
        self.settings = settings
        self.db = Database(settings.database_url, pool_size=settings.database_pool_size)
        self.bus = bus or make_bus(settings)
        self.clock: Clock = clock or _clock_of(settings)
        self.failpoints = Failpoints(settings.failpoints)
        self.factory = EventFactory(settings.source, settings.topic_prefix, self.clock)
        self.wakeups = Wakeups()
        self.relay = OutboxRelay(
            service=settings.service_name,
            db=self.db,
            bus=self.bus,
            clock=self.clock,
            failpoints=self.failpoints,
            batch_size=settings.relay_batch_size,
            poll_interval_s=settings.relay_poll_interval_s,
            max_backoff_s=settings.retry_max_backoff_s,
            wakeup=self.wakeups.subscribe(OUTBOX),
        )
        consumes = bool(definition.handlers or definition.batch_handlers) and settings.consume
        self.consumer = EventConsumer(self, definition.handlers, definition.batch_handlers) if consumes else None
        self.state: dict[str, Any] = {}  # service-owned singletons (e.g. the SMTP sender)
        self._stop = asyncio.Event()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.started = False

    def new_unit_of_work(
        self, session: AsyncSession, *, cause: CloudEvent | None = None, correlation_id: str | None = None
    ) -> UnitOfWork:
        """A unit of work in a transaction someone else opened and commits (e.g. a consumer's batch)."""
        return UnitOfWork(session, self.factory, cause, correlation_id, settings=self.settings)

    @asynccontextmanager
    async def unit_of_work(
        self, *, cause: CloudEvent | None = None, correlation_id: str | None = None
    ) -> AsyncIterator[UnitOfWork]:
        async with self.db.sessions() as session, session.begin():
            uow = self.new_unit_of_work(session, cause=cause, correlation_id=correlation_id)
            yield uow
            signals = await flush_outboxes([uow])
        self.wakeups.fire(signals)

    async def start(self) -> None:
        await self._reach_database()
        await self.bus.start()  # a broker that is away is connected to on first use
        self._stop.clear()
        if self.settings.relay or self.settings.workers:
            self._spawn("wakeups", functools.partial(listen, self.db, self.wakeups))
        if self.settings.relay:
            self._spawn("relay", self.relay.run)
        if self.consumer is not None:
            self._spawn("consumer", self.consumer.run)
        if self.settings.workers:
            for worker in self.definition.workers:
                self._spawn(getattr(worker, "__name__", "worker"), functools.partial(worker, self))
        self.started = True
        log.info("service_started", service=self.settings.service_name, bus=self.settings.bus)

    async def _reach_database(self) -> None:
        """Migrate (if asked) and prepare the database, trying again while it is unreachable: a replica started
        during a database restart waits for it rather than exiting into a crash loop's growing back-off."""
        deadline = time.monotonic() + self.settings.startup_wait_s
        backoff = self.settings.retry_initial_backoff_s
        while True:
            try:
                if self.settings.migrate_on_start:
                    from trellis_common.migrations import upgrade

                    await upgrade(self.definition, self.settings.database_url)
                await self.db.prepare()
                return
            except Exception as exc:
                if not is_transient(exc) or time.monotonic() + backoff > deadline:
                    raise
                log.warning("database_unreachable_at_start", error=repr(exc), retry_in_s=backoff)
                await asyncio.sleep(backoff)  # backing off before the next attempt
                backoff = min(backoff * 2, self.settings.retry_max_backoff_s)

    def _spawn(self, name: str, run: Callable[[asyncio.Event], Awaitable[None]]) -> None:
        self._tasks[name] = asyncio.create_task(self._supervise(name, run), name=f"{self.settings.service_name}:{name}")

    async def _supervise(self, name: str, run: Callable[[asyncio.Event], Awaitable[None]]) -> None:
        """Restart a crashed loop after a pause: a broker or DB outage at start-up must not kill the process."""
        # Each task runs in its own context copy: every log line it writes names its service and task.
        structlog.contextvars.bind_contextvars(service=self.settings.service_name, task=name)
        backoff = self.settings.retry_initial_backoff_s
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                await run(self._stop)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if time.monotonic() - started > 60:
                    backoff = self.settings.retry_initial_backoff_s  # it ran well for a while: a fresh incident
                log.error("task_crashed", task=name, error=repr(exc), restart_in_s=backoff, exc_info=True)
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=backoff)
                backoff = min(backoff * 2, self.settings.retry_max_backoff_s)

    def wakeup_signal(self, *signals: str) -> asyncio.Event:
        """A worker's own wake-up event: set by ``wake_workers`` (e.g. when the manual clock moves) and when a
        transaction that names one of ``signals`` commits, in this process or another (LISTEN/NOTIFY)."""
        event = self.wakeups.subscribe(WORKERS)
        for signal in signals:
            self.wakeups.subscribe_event(signal, event)
        return event

    def wake_workers(self) -> None:
        self.wakeups.fire([WORKERS])

    async def stop(self) -> None:
        """Graceful: stop consuming, let the in-flight handler finish, flush the outbox, then close."""
        self._stop.set()
        self.wakeups.fire([OUTBOX, WORKERS])
        if self._tasks:
            _done, pending = await asyncio.wait(self._tasks.values(), timeout=self.settings.shutdown_timeout_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        self._tasks.clear()
        if self.started and self.settings.relay:
            try:
                await asyncio.wait_for(self.relay.drain(), timeout=10)
            except Exception as exc:
                log.warning("outbox_flush_incomplete", error=repr(exc))
        await self.bus.stop()
        await self.db.dispose()
        self.started = False
        log.info("service_stopped", service=self.settings.service_name)

    async def readiness(self) -> dict[str, str]:
        """Each check's state; the service is ready when all are 'ok'."""
        checks: dict[str, str] = {}
        try:
            await asyncio.wait_for(self.db.ping(), timeout=3)
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unreachable: {type(exc).__name__}"
        try:
            await self.bus.ping()
            checks["bus"] = "ok"
        except Exception as exc:
            checks["bus"] = f"unreachable: {exc}"
        if self.consumer is not None and not self.definition.projection_only:
            consumer = self.consumer.bus_consumer
            checks["consumer"] = "ok" if consumer is not None and consumer.assigned() else "not assigned"
        if self.settings.relay:
            checks["relay"] = "ok" if self.relay.running else "not running"
        return checks


def _clock_of(settings: ServiceSettings) -> Clock:
    match settings.clock:
        case "manual":
            return ManualClock()
        case "shifted":
            return ShiftedClock(timedelta(seconds=settings.clock_shift_s))
        case "system":
            return SystemClock()
