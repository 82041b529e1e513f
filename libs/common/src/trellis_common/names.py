"""Organisations' names by id, projected from ``surveys.member.changed``: what a service that renders for people
keeps so that nothing a person reads shows an id.

A member organisation's name and its cluster's name are not personal data (DESIGN §1), so any service may keep
them; contact persons on the same event are ignored here. Each service holds its own two tables (defined on its
own metadata by ``name_tables``, created by its own migration with ``migrations.create_name_tables``): services
share no tables. A member's tombstone removes its name; the cluster's name stays (the cluster still exists).
An older state than the one kept (a replay from a DLQ) changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Column, MetaData, String, Table, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.consumer import Handler, Incoming
from trellis_common.db import UTCDateTime, insert_for
from trellis_common.errors import ContractError
from trellis_common.events import MemberChanged
from trellis_common.unit_of_work import UnitOfWork

MEMBER_NAMES = "member_names"
CLUSTER_NAMES = "cluster_names"


@dataclass(frozen=True)
class NameTables:
    members: Table
    clusters: Table


def name_tables(metadata: MetaData) -> NameTables:
    """The projection's two tables on a service's own metadata."""
    members = Table(
        MEMBER_NAMES,
        metadata,
        Column("member_id", String(128), primary_key=True),
        Column("cluster_id", String(128), nullable=False, index=True),
        Column("name", String(200), nullable=False),
        Column("changed_at", UTCDateTime, nullable=False),
    )
    clusters = Table(
        CLUSTER_NAMES,
        metadata,
        Column("cluster_id", String(128), primary_key=True),
        Column("name", String(200), nullable=False),
        Column("changed_at", UTCDateTime, nullable=False),
    )
    return NameTables(members, clusters)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


async def _upsert_newer(session: AsyncSession, table: Table, key: str, row: dict[str, object]) -> None:
    stmt = insert_for(session, table).values(row)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[key],
            set_={c: stmt.excluded[c] for c in row if c != key},
            where=table.c.changed_at <= stmt.excluded.changed_at,
        )
    )


async def record_member(session: AsyncSession, tables: NameTables, changed: MemberChanged) -> None:
    """Keep the member's and (when the event has it) its cluster's name, unless a newer state is kept."""
    at = _aware(changed.changed_at)
    await _upsert_newer(
        session,
        tables.members,
        "member_id",
        {"member_id": changed.member_id, "cluster_id": changed.cluster_id, "name": changed.name, "changed_at": at},
    )
    if changed.cluster_name:
        await _upsert_newer(
            session,
            tables.clusters,
            "cluster_id",
            {"cluster_id": changed.cluster_id, "name": changed.cluster_name, "changed_at": at},
        )


async def forget_member(session: AsyncSession, tables: NameTables, member_id: str) -> None:
    await session.execute(delete(tables.members).where(tables.members.c.member_id == member_id))


async def apply_member_event(session: AsyncSession, tables: NameTables, incoming: Incoming) -> None:
    """A ``surveys.member.changed`` record: a state to keep, or a tombstone (the key names the member)."""
    if incoming.data is None:
        member_id = incoming.key or incoming.envelope.subject
        if not member_id:
            raise ContractError("a member tombstone must name the member in its key or subject")
        await forget_member(session, tables, member_id)
        return
    await record_member(session, tables, incoming.require(MemberChanged))


def member_names_handler(tables: NameTables) -> Handler:
    """The handler a service registers for ``surveys.member.changed`` when names are all it needs of it."""

    async def on_member_changed(uow: UnitOfWork, incoming: Incoming) -> None:
        await apply_member_event(uow.session, tables, incoming)

    return on_member_changed


@dataclass(frozen=True)
class Names:
    """Names found by id; an id without one (not projected yet, or deleted) is simply absent."""

    members: dict[str, str] = field(default_factory=dict)
    clusters: dict[str, str] = field(default_factory=dict)

    def member(self, member_id: str) -> str | None:
        return self.members.get(member_id)

    def cluster(self, cluster_id: str) -> str | None:
        return self.clusters.get(cluster_id)


async def names_of(
    session: AsyncSession,
    tables: NameTables,
    *,
    member_ids: Iterable[str] = (),
    cluster_ids: Iterable[str] = (),
) -> Names:
    """The names of the given members and clusters, in one query each."""
    wanted_members = sorted(set(member_ids))
    wanted_clusters = sorted(set(cluster_ids))
    members: dict[str, str] = {}
    clusters: dict[str, str] = {}
    if wanted_members:
        rows = await session.execute(
            select(tables.members.c.member_id, tables.members.c.name).where(
                tables.members.c.member_id.in_(wanted_members)
            )
        )
        members = {str(member_id): str(name) for member_id, name in rows}
    if wanted_clusters:
        rows = await session.execute(
            select(tables.clusters.c.cluster_id, tables.clusters.c.name).where(
                tables.clusters.c.cluster_id.in_(wanted_clusters)
            )
        )
        clusters = {str(cluster_id): str(name) for cluster_id, name in rows}
    return Names(members, clusters)
