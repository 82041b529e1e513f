"""What a service consumes, registered with the handler and typed by it.

``@handles(GapsAssessed)`` over ``async def on_gaps_assessed(received: Received[GapsAssessed])`` gives the handler
the event's data already parsed as that model (mypy checks the handler takes it); ``@handles_batch(...)`` does the
same for a handler of a consumer batch's consecutive events of one type (``Sequence[Received[...]]``). The event
type comes from the catalogue, so a service's definition just lists its handlers::

    DEFINITION = ServiceDefinition(..., consumes=[on_gaps_assessed, on_partners_matched])

A handler of a state topic whose records may be tombstones (no data: ``surveys.member.changed`` when a member is
deleted) takes the raw record instead: ``@handles_records(MemberChanged)`` over ``(uow, incoming)``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from trellis_common.catalogue import spec_for_model
from trellis_common.consumer import BatchHandler, Handler, Handling, Incoming
from trellis_common.envelope import CloudEvent
from trellis_common.events import EventData
from trellis_common.unit_of_work import UnitOfWork

E = TypeVar("E", bound=EventData)


@dataclass(frozen=True)
class Received(Generic[E]):
    """One event for a handler: the unit of work its effects belong to, its data parsed, and its envelope."""

    uow: UnitOfWork
    event: E
    envelope: CloudEvent
    key: str | None


def _received(model: type[E], uow: UnitOfWork, incoming: Incoming) -> Received[E]:
    return Received(uow, incoming.require(model), incoming.envelope, incoming.key)


class Subscription:
    """A handler of one event at a time, as the consumer calls it, with the event type it is registered for."""

    def __init__(self, model: type[EventData], handler: Handler) -> None:
        self.model = model
        self.event_type = spec_for_model(model).type
        self._handler = handler

    async def __call__(self, uow: UnitOfWork, incoming: Incoming) -> None:
        await self._handler(uow, incoming)


class BatchSubscription:
    """A handler of a batch's consecutive events of one type, as the consumer calls it."""

    def __init__(self, model: type[EventData], handler: BatchHandler) -> None:
        self.model = model
        self.event_type = spec_for_model(model).type
        self._handler = handler

    async def __call__(self, batch: Sequence[Handling]) -> None:
        await self._handler(batch)


def handles(model: type[E]) -> Callable[[Callable[[Received[E]], Awaitable[None]]], Subscription]:
    """Register the decorated function as the handler of ``model``'s events, one at a time."""

    def register(apply: Callable[[Received[E]], Awaitable[None]]) -> Subscription:
        async def handler(uow: UnitOfWork, incoming: Incoming) -> None:
            await apply(_received(model, uow, incoming))

        return Subscription(model, handler)

    return register


def handles_batch(
    model: type[E],
) -> Callable[[Callable[[Sequence[Received[E]]], Awaitable[None]]], BatchSubscription]:
    """Register the decorated function as the handler of ``model``'s events, a batch's consecutive ones at once."""

    def register(apply: Callable[[Sequence[Received[E]]], Awaitable[None]]) -> BatchSubscription:
        async def handler(batch: Sequence[Handling]) -> None:
            await apply([_received(model, h.uow, h.incoming) for h in batch])

        return BatchSubscription(model, handler)

    return register


def handles_records(model: type[EventData]) -> Callable[[Handler], Subscription]:
    """Register a handler of ``model``'s raw records, tombstones included (a state topic's deletions)."""

    def register(handler: Handler) -> Subscription:
        return Subscription(model, handler)

    return register
