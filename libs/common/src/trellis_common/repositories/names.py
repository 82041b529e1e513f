"""The name projection's two tables (member and cluster names by id, on a service's own metadata) and every
statement on them: keeping the newest state, forgetting a member, finding names, members' clusters and known
clusters. ``trellis_common.names`` applies ``surveys.member.changed`` with them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Column, MetaData, String, Table, delete, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.db import UTCDateTime, insert_for
from trellis_common.repositories.in_list import in_list

if TYPE_CHECKING:
    from trellis_common.events import MemberChanged

MEMBER_NAMES = "member_names"
CLUSTER_NAMES = "cluster_names"


@dataclass(frozen=True)
class NameTables:
    members: Table
    clusters: Table


def name_tables(metadata: MetaData) -> NameTables:
    """The projection's two tables on a service's own metadata (created by ``migrations.create_name_tables``)."""
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
                in_list(tables.members.c.member_id, wanted_members)
            )
        )
        members = {str(member_id): str(name) for member_id, name in rows}
    if wanted_clusters:
        rows = await session.execute(
            select(tables.clusters.c.cluster_id, tables.clusters.c.name).where(
                in_list(tables.clusters.c.cluster_id, wanted_clusters)
            )
        )
        clusters = {str(cluster_id): str(name) for cluster_id, name in rows}
    return Names(members, clusters)


async def clusters_of_members(session: AsyncSession, tables: NameTables, member_ids: Iterable[str]) -> dict[str, str]:
    """The cluster of each of the members that are known, by member id (one query)."""
    wanted = sorted(set(member_ids))
    if not wanted:
        return {}
    rows = await session.execute(
        select(tables.members.c.member_id, tables.members.c.cluster_id).where(
            in_list(tables.members.c.member_id, wanted)
        )
    )
    return {str(member): str(cluster) for member, cluster in rows}


async def known_clusters(session: AsyncSession, tables: NameTables, cluster_ids: Iterable[str]) -> set[str]:
    """Which of the clusters are known, by a name or by one of their members (one query)."""
    wanted = sorted(set(cluster_ids))
    if not wanted:
        return set()
    query = union(
        select(tables.clusters.c.cluster_id).where(in_list(tables.clusters.c.cluster_id, wanted)),
        select(tables.members.c.cluster_id).where(in_list(tables.members.c.cluster_id, wanted)),
    )
    return {str(cluster) for (cluster,) in await session.execute(query)}
