"""Reading the cluster directory within a caller's scope.

Every lookup by an id that came from a request goes through here with the caller's ``Scope``: a cluster or
member of a cluster the caller may not see is simply not found, so the route answers the same 404 as for an
id that does not exist and other clusters' ids cannot be probed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.app import not_found
from trellis_common.auth import Scope
from trellis_surveys.models import clusters, contacts, members


async def find_cluster(session: AsyncSession, scope: Scope, cluster_id: str) -> dict[str, Any] | None:
    row = (
        (await session.execute(select(clusters).where(clusters.c.id == cluster_id, scope.clause(clusters.c.id))))
        .mappings()
        .first()
    )
    return dict(row) if row is not None else None


async def require_cluster(session: AsyncSession, scope: Scope, cluster_id: str) -> None:
    """404 unless the cluster exists and is in scope."""
    if not await session.scalar(select(clusters.c.id).where(clusters.c.id == cluster_id, scope.clause(clusters.c.id))):
        raise not_found("cluster", cluster_id)


async def member_cluster(session: AsyncSession, scope: Scope, member_id: str) -> str | None:
    """The cluster of a member in scope (``None``: no such member for this caller)."""
    found: str | None = await session.scalar(
        select(members.c.cluster_id).where(members.c.id == member_id, scope.clause(members.c.cluster_id))
    )
    return found


async def load_member(session: AsyncSession, scope: Scope, member_id: str) -> dict[str, Any] | None:
    """A member in scope with its contacts and its cluster's name (``cluster_name``)."""
    row = (
        (
            await session.execute(
                select(members, clusters.c.name.label("cluster_name"))
                .join(clusters, clusters.c.id == members.c.cluster_id)
                .where(members.c.id == member_id, scope.clause(members.c.cluster_id))
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    people = (
        (await session.execute(select(contacts).where(contacts.c.member_id == member_id).order_by(contacts.c.name)))
        .mappings()
        .all()
    )
    return {**row, "contacts": [dict(c) for c in people]}


async def load_members(
    session: AsyncSession, scope: Scope, cluster_id: str | None = None, member_ids: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """Every member in scope (of one cluster, and among ``member_ids``, when given) as ``load_member`` reads
    it, in two queries."""
    query = (
        select(members, clusters.c.name.label("cluster_name"))
        .join(clusters, clusters.c.id == members.c.cluster_id)
        .where(scope.clause(members.c.cluster_id))
        .order_by(members.c.cluster_id, members.c.id)
    )
    if cluster_id is not None:
        query = query.where(members.c.cluster_id == cluster_id)
    if member_ids is not None:
        query = query.where(members.c.id.in_(list(member_ids)))
    rows = [dict(row) for row in (await session.execute(query)).mappings()]
    people: dict[str, list[dict[str, Any]]] = {str(row["id"]): [] for row in rows}
    if rows:
        found = await session.execute(
            select(contacts).where(contacts.c.member_id.in_(list(people))).order_by(contacts.c.name)
        )
        for contact in found.mappings():
            people[str(contact["member_id"])].append(dict(contact))
    return [{**row, "contacts": people[str(row["id"])]} for row in rows]
