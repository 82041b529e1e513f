"""Events about members a service does not know: parked until ``surveys.member.changed`` brings the member.

Another system may post a survey response (or gaps) for a member nobody registered: a typo in an id, a test
left running against production, a replay into the wrong environment. Acting on it would assess a phantom
member and give it real seats. A consumer that keeps the names projection (``trellis_common.names``) checks
each event's cluster and member against it first (``admit``):

- the member is known in that cluster: the event is handled;
- the member is not known (yet), in a known cluster or in one not known yet either: the event is *parked* with
  the reason. Topics are read in no particular order, so the member's ``surveys.member.changed`` may simply not
  have been read yet; for a new cluster, nor has any of its members' (a consumer starting on a backlog of both
  topics reads the responses of a cluster onboarded meanwhile before its members). The member's event releases
  it (``releasing_names_handler``): it is handled then, in the same transaction, under its own causation and
  correlation. What never becomes known stays parked, listed at ``GET /parked-events``;
- the member belongs to another cluster: a contract error, so the event goes alone to the DLQ with the reason.

A parked event that cannot be applied when it is released stays parked with the error as its reason, so the
directory update that released it is never dead-lettered for it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, TypeVar

from fastapi import APIRouter, Query
from prometheus_client import Counter
from pydantic import AwareDatetime, BaseModel

from trellis_common.app import Runtime
from trellis_common.auth import Admin
from trellis_common.catalogue import BY_TYPE
from trellis_common.consumer import BatchHandler, Handling, Incoming
from trellis_common.envelope import CloudEvent
from trellis_common.errors import ContractError, is_transient
from trellis_common.events import EventData, MemberChanged
from trellis_common.logging import get_logger
from trellis_common.names import apply_member_event
from trellis_common.repositories import parked_events
from trellis_common.repositories.names import clusters_of_members, known_clusters
from trellis_common.subscriptions import BatchSubscription, Received, Subscription, handles_records
from trellis_common.unit_of_work import UnitOfWork, flush_outboxes

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.ext.asyncio import AsyncSession

    from trellis_common.repositories.names import NameTables

log = get_logger(__name__)

PARKED = Counter(
    "trellis_events_parked_total", "Events parked because they name a member not known yet", ["service", "type"]
)
RELEASED = Counter(
    "trellis_events_released_total",
    "Parked events handled once their member became known, by outcome",
    ["service", "type", "outcome"],
)

E = TypeVar("E", bound=EventData)


@dataclass(frozen=True)
class Parking:
    """What a service needs to gate its consumers: its names projection and its parked events table
    (``repositories.parked_events.parked_events_table``)."""

    service: str
    names: NameTables
    parked: Table


async def admit(
    parking: Parking, batch: Sequence[Received[E]], member_of: Callable[[E], tuple[str, str]]
) -> list[Received[E]]:
    """The events of ``batch`` whose member is known, in order; the others are parked or refused (see above).
    ``member_of`` names the (cluster id, member id) an event is about."""
    if not batch:
        return []
    session = batch[0].uow.session
    about = [member_of(received.event) for received in batch]
    member_clusters = await clusters_of_members(session, parking.names, (m for _, m in about))
    if any(member_clusters.get(member_id) != cluster_id for cluster_id, member_id in about):
        # Something may park: take turns with the members' arrivals, then read again what is known.
        await parked_events.take_turn(session)
        member_clusters = await clusters_of_members(session, parking.names, (m for _, m in about))
    known = await known_clusters(session, parking.names, (c for c, _ in about))
    admitted: list[Received[E]] = []
    for received, (cluster_id, member_id) in zip(batch, about, strict=True):
        home = member_clusters.get(member_id)
        if home == cluster_id:
            admitted.append(received)
        elif home is not None:
            raise ContractError(
                f"member {member_id!r} belongs to another cluster than {cluster_id!r}", code="rule.other_cluster"
            )
        elif cluster_id not in known:
            reason = f"member {member_id!r} and its cluster {cluster_id!r} are not known yet"
            await park(parking, received, cluster_id, member_id, reason)
        else:
            await park(parking, received, cluster_id, member_id, f"member {member_id!r} is not known yet")
    return admitted


async def is_known_cluster(session: AsyncSession, names: NameTables, cluster_id: str) -> bool:
    """Whether a member of the cluster was ever published (or its name was)."""
    return cluster_id in await known_clusters(session, names, (cluster_id,))


async def require_known_cluster(session: AsyncSession, names: NameTables, cluster_id: str) -> None:
    """Refuse (to the DLQ) an event about a cluster no member of which was ever published."""
    if not await is_known_cluster(session, names, cluster_id):
        raise ContractError(
            f"unknown cluster {cluster_id!r}: no member of it was ever published", code="rule.unknown_cluster"
        )


async def park(parking: Parking, received: Received[E], cluster_id: str, member_id: str, reason: str) -> None:
    event = received.envelope
    await parked_events.park(
        received.uow.session,
        parking.parked,
        event_id=event.id,
        event_type=event.type,
        cluster_id=cluster_id,
        member_id=member_id,
        key=received.key,
        envelope=event.model_dump(mode="json"),
        reason=reason,
        parked_at=received.uow.now,
    )
    PARKED.labels(parking.service, event.type).inc()
    log.warning("event_parked", parked_event_id=event.id, parked_event_type=event.type, reason=reason)


async def release(uow: UnitOfWork, parking: Parking, member_id: str, handlers: Mapping[str, BatchHandler]) -> int:
    """Handle the events parked for ``member_id`` (now known), each in a savepoint; returns how many applied."""
    session = uow.session
    table = parking.parked
    rows = await parked_events.waiting_for(session, table, member_id)
    applied = 0
    for row in rows:
        event_type = str(row["event_type"])
        try:
            async with session.begin_nested():
                envelope = CloudEvent.model_validate(row["envelope"])
                if envelope.data is None:
                    raise ContractError("a parked event has no data")
                data = BY_TYPE[event_type].model.model_validate(envelope.data)
                child = UnitOfWork(session, uow.factory, cause=envelope, settings=uow.settings)
                await handlers[event_type]([Handling(child, Incoming(envelope, data, row["key"]))])
                uow.wakes.update(await flush_outboxes([child]))
                await parked_events.remove(session, table, row["id"])
        except Exception as exc:
            if is_transient(exc):
                raise
            reason = f"could not be applied when its member became known: {type(exc).__name__}: {exc}"[:1000]
            await parked_events.set_reason(session, table, row["id"], reason)
            RELEASED.labels(parking.service, event_type, "failed").inc()
            log.error("parked_event_failed", parked_event_id=row["event_id"], reason=reason)
            continue
        applied += 1
        RELEASED.labels(parking.service, event_type, "applied").inc()
        log.info("parked_event_released", parked_event_id=row["event_id"], parked_event_type=event_type)
    return applied


def releasing_names_handler(parking: Parking, releases: Sequence[BatchSubscription]) -> Subscription:
    """The ``surveys.member.changed`` handler of a gated service: keep the names, then release the member's
    parked events to ``releases``, the handlers of what parks. A tombstone releases nothing: events about a deleted
    member stay parked, with their reason."""
    handlers: dict[str, BatchHandler] = {subscription.event_type: subscription for subscription in releases}

    @handles_records(MemberChanged)
    async def on_member_changed(uow: UnitOfWork, incoming: Incoming) -> None:
        await parked_events.take_turn(uow.session)  # an event parked meanwhile by another replica is seen below
        await apply_member_event(uow.session, parking.names, incoming)
        if incoming.data is not None:
            await release(uow, parking, incoming.require(MemberChanged).member_id, handlers)

    return on_member_changed


class ParkedEvent(BaseModel):
    event_id: str
    event_type: str
    cluster_id: str
    member_id: str
    reason: str
    parked_at: AwareDatetime


def parked_events_router(parking: Parking) -> APIRouter:
    """``GET /parked-events``: what waits for its member, oldest first (platform admins, like the DLQs)."""
    router = APIRouter(tags=["operations"])

    @router.get(
        "/parked-events",
        response_model=list[ParkedEvent],
        summary="Events waiting for a member surveys has not published (platform admins)",
    )
    async def list_parked(
        _admin: Admin,
        runtime: Runtime,
        cluster_id: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> list[dict[str, object]]:
        async with runtime.db.sessions() as session:
            return await parked_events.page(session, parking.parked, cluster_id=cluster_id, limit=limit, offset=offset)

    return router
