"""The consuming side: decode, dedupe (inbox), handle a fetched batch in one transaction, commit offsets after.

A fetched batch is applied in one database transaction: the inbox claims of all its events, every
handler's effects and the outbox rows they cause commit together, and the Kafka offsets are committed once,
after that commit. Records are handled in fetch order (state topics' records first), so the order per key
(partition) is the order of the log. Should one record fail for good, the batch's transaction is rolled
back and the batch is applied again one record per transaction, so the bad record goes alone to
``<topic>.dlq`` with the error in headers and the others are applied. Transient failures rewind the
partitions and retry with capped exponential backoff, so order is kept and no offset is committed past
unapplied work.

A service may register a *batch handler* for a type: it receives the batch's consecutive events of that
type together (each with its own unit of work, so emitted events keep their causation), e.g. so that
matchmaking places many members' gaps in one solve.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple, TypeVar

import structlog
from pydantic import ValidationError

from trellis_common.bus import BusConsumer, OutgoingMessage, Record
from trellis_common.catalogue import BY_TYPE, CATALOGUE, EventSpec
from trellis_common.envelope import CloudEvent, from_kafka
from trellis_common.errors import ContractError, PermanentError, is_transient
from trellis_common.events import EventData
from trellis_common.failpoints import CONSUMER_AFTER_DB_COMMIT, CONSUMER_BEFORE_DB_COMMIT
from trellis_common.logging import get_logger
from trellis_common.metrics import CONSUMER_LAG, DLQ_TOTAL, EVENTS_CONSUMED, HANDLER_SECONDS
from trellis_common.repositories import inbox
from trellis_common.unit_of_work import UnitOfWork, flush_outboxes

if TYPE_CHECKING:
    from trellis_common.runtime import ServiceRuntime

log = get_logger(__name__)
M = TypeVar("M", bound=EventData)


@dataclass(frozen=True)
class Incoming:
    envelope: CloudEvent
    data: EventData | None
    key: str | None

    def require(self, model: type[M]) -> M:
        if not isinstance(self.data, model):
            raise ContractError(f"{self.envelope.type} carries no {model.__name__} data", code="contract.invalid_data")
        return self.data


class Handling(NamedTuple):
    """One event to apply, with the unit of work its effects and emitted events belong to."""

    uow: UnitOfWork
    incoming: Incoming


Handler = Callable[[UnitOfWork, Incoming], Awaitable[None]]
BatchHandler = Callable[[Sequence[Handling]], Awaitable[None]]


T = TypeVar("T")


def distinct_runs(batch: Sequence[T], key: Callable[[T], object]) -> Iterator[list[T]]:
    """The batch cut, in order, into runs in which no key repeats: a batch handler applies each run at once,
    so two events about one aggregate (say, two responses of a member) still apply one after the other."""
    run: list[T] = []
    keys: set[object] = set()
    for item in batch:
        k = key(item)
        if k in keys:
            yield run
            run, keys = [], set()
        run.append(item)
        keys.add(k)
    if run:
        yield run


class EventConsumer:
    def __init__(
        self,
        runtime: ServiceRuntime,
        handlers: Mapping[str, Handler],
        batch_handlers: Mapping[str, BatchHandler] | None = None,
    ) -> None:
        self.runtime = runtime
        self.handlers = dict(handlers)
        self.batch_handlers = dict(batch_handlers or {})
        self.name = runtime.settings.consumer_group
        prefix = runtime.settings.topic_prefix
        self.topics = sorted({BY_TYPE[t].topic(prefix) for t in (*self.handlers, *self.batch_handlers)})
        self._spec_by_topic: dict[str, EventSpec] = {s.topic(prefix): s for s in CATALOGUE}
        self.bus_consumer: BusConsumer | None = None
        self.retrying: str | None = None
        self.in_flight = False

    @property
    def service(self) -> str:
        return self.runtime.settings.service_name

    async def run(self, stop: asyncio.Event) -> None:
        settings = self.runtime.settings
        state = [t for t in self.topics if self._spec_by_topic[t].compacted]
        self.bus_consumer = consumer = self.runtime.bus.consumer(settings.consumer_group, self.topics, state)
        await consumer.start()
        backoff = settings.retry_initial_backoff_s
        last_lag = 0.0
        try:
            while not stop.is_set():
                fetched = await consumer.fetch(0.5, settings.consumer_batch_size)
                records = [r for r in fetched if consumer.owns(r)]  # a revoked partition's new owner has them
                if records and stop.is_set():
                    await self._rewind_rest(consumer, records)
                elif records:
                    backoff = await self._consume(consumer, records, stop, backoff)
                if time.monotonic() - last_lag > 5:
                    last_lag = time.monotonic()
                    for (topic, partition), lag in (await consumer.lag()).items():
                        CONSUMER_LAG.labels(self.service, topic, str(partition)).set(lag)
        finally:
            await consumer.stop()

    async def _consume(
        self, consumer: BusConsumer, records: list[Record], stop: asyncio.Event, backoff: float
    ) -> float:
        """Apply a fetched batch and commit its offsets; on a transient failure rewind it and wait. Returns the
        backoff for the next failure."""
        settings = self.runtime.settings
        try:
            self.in_flight = True
            await self._process_batch(records)
        except Exception as exc:
            if not is_transient(exc):
                raise
            for record in records:
                EVENTS_CONSUMED.labels(self.service, _type_of(record), "retried").inc()
            self.retrying = repr(exc)
            log.warning(
                "handler_transient_error",
                error=repr(exc),
                retry_in_s=backoff,
                records=len(records),
                first_topic=records[0].topic,
                first_offset=records[0].offset,
            )
            await self._rewind_rest(consumer, records)
            await _sleep_or_stop(stop, backoff)
            return min(backoff * 2, settings.retry_max_backoff_s)
        finally:
            self.in_flight = False
        self.retrying = None
        await consumer.commit(*records)
        return settings.retry_initial_backoff_s

    async def _rewind_rest(self, consumer: BusConsumer, rest: list[Record]) -> None:
        first_per_partition: dict[tuple[str, int], Record] = {}
        for record in rest:
            first_per_partition.setdefault((record.topic, record.partition), record)
        for record in first_per_partition.values():
            await consumer.rewind(record)

    async def _process_batch(self, records: Sequence[Record]) -> None:
        """Apply a batch in one transaction; if one record fails for good, apply them one by one instead.

        Undecodable records are dead-lettered after the others are applied, so a transient failure (which
        replays the whole batch) does not send them to the DLQ twice. Records of state topics (compacted, e.g.
        the member directory) go first: the facts fetched with them may be about what they bring (a response
        of a member published just before); each partition's order is kept.
        """
        records = sorted(records, key=self._facts_after_state)
        decoded: list[tuple[Record, Incoming]] = []
        undecodable: list[tuple[Record, Exception]] = []
        for record in records:
            try:
                decoded.append((record, self._decode(record)))
            except (ContractError, ValidationError) as exc:
                undecodable.append((record, exc))
        if len(decoded) > 1:
            try:
                await self._apply(decoded)
                decoded = []
            except Exception as exc:
                if is_transient(exc):
                    raise
                log.warning("batch_applied_one_by_one", records=len(decoded), error=repr(exc))
        for record, incoming in decoded:
            try:
                await self._apply([(record, incoming)])
            except Exception as exc:
                if is_transient(exc):
                    raise
                await self._dead_letter(record, exc, event_type=incoming.envelope.type)
        for record, problem in undecodable:
            await self._dead_letter(record, problem, event_type=_type_of(record))

    async def _apply(self, batch: Sequence[tuple[Record, Incoming]]) -> None:
        """Inbox claims, handlers and outbox rows of ``batch`` in one transaction, in fetch order."""
        runtime = self.runtime
        started = time.perf_counter()
        fresh: list[bool] = []
        work: list[Handling] = []
        async with runtime.db.sessions() as session, session.begin():
            new_ids = await inbox.claim_many(
                session, self.name, [(i.envelope.id, i.envelope.type) for _, i in batch], runtime.clock.now()
            )
            for _, incoming in batch:
                event_id = incoming.envelope.id
                fresh.append(event_id in new_ids)
                new_ids.discard(event_id)  # the same event twice in one batch: the first one applies
                if fresh[-1]:
                    work.append(Handling(runtime.new_unit_of_work(session, cause=incoming.envelope), incoming))
            for event_type, run in itertools.groupby(work, key=lambda h: h.incoming.envelope.type):
                await self._handle(event_type, list(run))
            signals = await flush_outboxes(h.uow for h in work)
            types = {incoming.envelope.type for _, incoming in batch}
            runtime.failpoints.hit(CONSUMER_BEFORE_DB_COMMIT, types)
        runtime.wakeups.fire(signals)
        seconds = (time.perf_counter() - started) / len(batch)
        for (_, incoming), applied in zip(batch, fresh, strict=True):
            event = incoming.envelope
            outcome = "processed" if applied else "duplicate"
            EVENTS_CONSUMED.labels(self.service, event.type, outcome).inc()
            HANDLER_SECONDS.labels(self.service, event.type).observe(seconds)
            log.info(
                "event_handled",
                outcome=outcome,
                event_id=event.id,
                event_type=event.type,
                correlation_id=event.correlationid,
                batch=len(batch),
            )
        runtime.failpoints.hit(CONSUMER_AFTER_DB_COMMIT, types)

    async def _handle(self, event_type: str, run: list[Handling]) -> None:
        batch_handler = self.batch_handlers.get(event_type)
        if batch_handler is not None:
            await batch_handler(run)
            return
        handler = self.handlers[event_type]
        for handling in run:
            event = handling.incoming.envelope
            structlog.contextvars.bind_contextvars(
                event_id=event.id, event_type=event.type, correlation_id=event.correlationid
            )
            try:
                await handler(handling.uow, handling.incoming)
            finally:
                structlog.contextvars.unbind_contextvars("event_id", "event_type", "correlation_id")

    def _facts_after_state(self, record: Record) -> int:
        spec = self._spec_by_topic.get(record.topic)
        return 0 if spec is not None and spec.compacted else 1

    def _decode(self, record: Record) -> Incoming:
        try:
            return self._decode_strictly(record)
        except (ContractError, ValidationError):
            raise
        except Exception as exc:  # e.g. RecursionError on absurdly nested JSON: still the record's fault
            raise ContractError(
                f"undecodable record: {type(exc).__name__}: {exc}", code="contract.undecodable"
            ) from exc

    def _decode_strictly(self, record: Record) -> Incoming:
        key = record.key.decode(errors="replace") if record.key is not None else None
        spec = self._spec_by_topic.get(record.topic)
        if record.value is None and spec is not None and spec.compacted and not _has_ce_headers(record):
            # A bare tombstone from compaction tooling: still means "erase this key".
            synthetic = CloudEvent(
                id=f"{record.topic}:{record.partition}:{record.offset}",
                source="kafka:tombstone",
                type=spec.type,
                subject=key,
            )
            return Incoming(synthetic, None, key)
        event = from_kafka(record.headers, record.value)
        if event.type not in self.handlers and event.type not in self.batch_handlers:
            raise ContractError(
                f"unknown event type {event.type!r} on topic {record.topic}", code="contract.unknown_type"
            )
        type_spec = BY_TYPE[event.type]
        if event.data is None:
            if not type_spec.compacted:
                raise ContractError(f"{event.type} must carry data")
            return Incoming(event, None, key)
        return Incoming(event, type_spec.model.model_validate(event.data), key)

    async def _dead_letter(self, record: Record, exc: BaseException, *, event_type: str) -> None:
        code, reason = _describe(exc)
        headers = [
            *record.headers,
            ("trellis_error", f"{code}: {reason}".encode()[:4000]),
            ("trellis_error_code", code.encode()),
            ("trellis_error_class", type(exc).__name__.encode()),
            ("trellis_original_topic", record.topic.encode()),
            ("trellis_original_partition", str(record.partition).encode()),
            ("trellis_original_offset", str(record.offset).encode()),
            ("trellis_consumer", self.name.encode()),
        ]
        dlq = f"{record.topic}.dlq"
        key = record.key.decode(errors="replace") if record.key else None
        try:
            await self.runtime.bus.publish([OutgoingMessage(dlq, key, record.value, headers)])
        except PermanentError as refused:
            # Too large even for the DLQ: keep the headers and the coordinates, which locate the original.
            headers.append(("trellis_value_dropped", str(refused).encode()[:1000]))
            await self.runtime.bus.publish([OutgoingMessage(dlq, key, None, headers)])
        DLQ_TOTAL.labels(self.service, record.topic).inc()
        EVENTS_CONSUMED.labels(self.service, event_type, "dead_lettered").inc()
        log.error("event_dead_lettered", topic=record.topic, offset=record.offset, dlq=dlq, reason=reason)


def _describe(exc: BaseException) -> tuple[str, str]:
    """The dead letter's code (``trellis_common.errors.DEAD_LETTER_CODES``) and its message."""
    if isinstance(exc, ValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
        )
        return "contract.invalid_data", problems
    if isinstance(exc, PermanentError):
        return exc.code, str(exc)
    return "rule.refused", f"{type(exc).__name__}: {exc}"


def _has_ce_headers(record: Record) -> bool:
    return any(name.lower().startswith("ce_") or name.lower() == "content-type" for name, _ in record.headers)


def _type_of(record: Record) -> str:
    for name, value in record.headers:
        if name.lower() == "ce_type" and value is not None:
            return value.decode(errors="replace")[:200]
    return "unknown"


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
