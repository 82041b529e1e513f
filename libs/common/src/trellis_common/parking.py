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

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query
from prometheus_client import Counter
from pydantic import AwareDatetime, BaseModel
from sqlalchemy import JSON, Column, MetaData, String, Table, delete, select, union, update
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.app import Runtime
from trellis_common.auth import Admin
from trellis_common.catalogue import BY_TYPE
from trellis_common.consumer import BatchHandler, Handler, Handling, Incoming
from trellis_common.db import BigIntId, UTCDateTime, insert_for
from trellis_common.envelope import CloudEvent
from trellis_common.errors import ContractError, is_transient
from trellis_common.events import MemberChanged
from trellis_common.logging import get_logger
from trellis_common.names import NameTables, apply_member_event
from trellis_common.unit_of_work import UnitOfWork, flush_outboxes

log = get_logger(__name__)

PARKED_EVENTS = "parked_events"
PARKED = Counter(
    "trellis_events_parked_total", "Events parked because they name a member not known yet", ["service", "type"]
)
RELEASED = Counter(
    "trellis_events_released_total",
    "Parked events handled once their member became known, by outcome",
    ["service", "type", "outcome"],
)

MemberOf = Callable[[Incoming], tuple[str, str]]
"""The (cluster id, member id) an event is about."""


def parked_events_table(metadata: MetaData) -> Table:
    """The parked events on a service's own metadata (created by ``migrations.create_parked_events_table``)."""
    return Table(
        PARKED_EVENTS,
        metadata,
        Column("id", BigIntId, primary_key=True, autoincrement=True),  # parking order is release order
        Column("event_id", String(64), nullable=False, unique=True),
        Column("event_type", String(200), nullable=False),
        Column("cluster_id", String(128), nullable=False),
        Column("member_id", String(128), nullable=False, index=True),
        Column("key", String(256), nullable=True),
        Column("envelope", JSON, nullable=False),
        Column("reason", String(1000), nullable=False),
        Column("parked_at", UTCDateTime, nullable=False),
    )


@dataclass(frozen=True)
class Parking:
    """What a service needs to gate its consumers: its names projection and its parked events table."""

    service: str
    names: NameTables
    parked: Table


async def _membership(
    session: AsyncSession, names: NameTables, members: Iterable[str], clusters: Iterable[str]
) -> tuple[dict[str, str], set[str]]:
    """The known members' clusters, and which of the clusters are known (by a name or by one of their members)."""
    wanted_members, wanted_clusters = sorted(set(members)), sorted(set(clusters))
    member_clusters: dict[str, str] = {}
    if wanted_members:
        rows = await session.execute(
            select(names.members.c.member_id, names.members.c.cluster_id).where(
                names.members.c.member_id.in_(wanted_members)
            )
        )
        member_clusters = {str(member): str(cluster) for member, cluster in rows}
    known_clusters: set[str] = set()
    if wanted_clusters:
        query = union(
            select(names.clusters.c.cluster_id).where(names.clusters.c.cluster_id.in_(wanted_clusters)),
            select(names.members.c.cluster_id).where(names.members.c.cluster_id.in_(wanted_clusters)),
        )
        known_clusters = {str(cluster) for (cluster,) in await session.execute(query)}
    return member_clusters, known_clusters


async def admit(parking: Parking, batch: Sequence[Handling], member_of: MemberOf) -> list[Handling]:
    """The events of ``batch`` whose member is known, in order; the others are parked or refused (see above)."""
    if not batch:
        return []
    session = batch[0].uow.session
    about = [member_of(h.incoming) for h in batch]
    member_clusters, known_clusters = await _membership(
        session, parking.names, (m for _, m in about), (c for c, _ in about)
    )
    admitted: list[Handling] = []
    for handling, (cluster_id, member_id) in zip(batch, about, strict=True):
        home = member_clusters.get(member_id)
        if home == cluster_id:
            admitted.append(handling)
        elif home is not None:
            raise ContractError(
                f"member {member_id!r} belongs to another cluster than {cluster_id!r}", code="rule.other_cluster"
            )
        elif cluster_id not in known_clusters:
            reason = f"member {member_id!r} and its cluster {cluster_id!r} are not known yet"
            await park(parking, handling, cluster_id, member_id, reason)
        else:
            await park(parking, handling, cluster_id, member_id, f"member {member_id!r} is not known yet")
    return admitted


async def is_known_cluster(session: AsyncSession, names: NameTables, cluster_id: str) -> bool:
    """Whether a member of the cluster was ever published (or its name was)."""
    _, known = await _membership(session, names, (), (cluster_id,))
    return cluster_id in known


async def require_known_cluster(session: AsyncSession, names: NameTables, cluster_id: str) -> None:
    """Refuse (to the DLQ) an event about a cluster no member of which was ever published."""
    if not await is_known_cluster(session, names, cluster_id):
        raise ContractError(
            f"unknown cluster {cluster_id!r}: no member of it was ever published", code="rule.unknown_cluster"
        )


async def park(parking: Parking, handling: Handling, cluster_id: str, member_id: str, reason: str) -> None:
    event = handling.incoming.envelope
    stmt = insert_for(handling.uow.session, parking.parked).values(
        event_id=event.id,
        event_type=event.type,
        cluster_id=cluster_id,
        member_id=member_id,
        key=handling.incoming.key,
        envelope=event.model_dump(mode="json"),
        reason=reason,
        parked_at=handling.uow.now,
    )
    await handling.uow.session.execute(stmt.on_conflict_do_nothing(index_elements=["event_id"]))
    PARKED.labels(parking.service, event.type).inc()
    log.warning("event_parked", parked_event_id=event.id, parked_event_type=event.type, reason=reason)


async def release(uow: UnitOfWork, parking: Parking, member_id: str, handlers: Mapping[str, BatchHandler]) -> int:
    """Handle the events parked for ``member_id`` (now known), each in a savepoint; returns how many applied."""
    session = uow.session
    table = parking.parked
    rows = (
        (await session.execute(select(table).where(table.c.member_id == member_id).order_by(table.c.id)))
        .mappings()
        .all()
    )
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
                await session.execute(delete(table).where(table.c.id == row["id"]))
        except Exception as exc:
            if is_transient(exc):
                raise
            reason = f"could not be applied when its member became known: {type(exc).__name__}: {exc}"[:1000]
            await session.execute(update(table).where(table.c.id == row["id"]).values(reason=reason))
            RELEASED.labels(parking.service, event_type, "failed").inc()
            log.error("parked_event_failed", parked_event_id=row["event_id"], reason=reason)
            continue
        applied += 1
        RELEASED.labels(parking.service, event_type, "applied").inc()
        log.info("parked_event_released", parked_event_id=row["event_id"], parked_event_type=event_type)
    return applied


def releasing_names_handler(parking: Parking, handlers: Mapping[str, BatchHandler]) -> Handler:
    """The ``surveys.member.changed`` handler of a gated service: keep the names, then release the member's
    parked events. A tombstone releases nothing: events about a deleted member stay parked, with their reason."""

    async def on_member_changed(uow: UnitOfWork, incoming: Incoming) -> None:
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
        table = parking.parked
        query = (
            select(
                table.c.event_id,
                table.c.event_type,
                table.c.cluster_id,
                table.c.member_id,
                table.c.reason,
                table.c.parked_at,
            )
            .order_by(table.c.id)
            .limit(limit)
            .offset(offset)
        )
        if cluster_id is not None:
            query = query.where(table.c.cluster_id == cluster_id)
        async with runtime.db.sessions() as session:
            return [dict(row) for row in (await session.execute(query)).mappings()]

    return router
