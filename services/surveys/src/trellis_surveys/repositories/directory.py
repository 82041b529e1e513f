"""The cluster directory: clusters, their member organisations and the members' contact persons.

Every lookup by an id that came from a request takes the caller's ``Scope``: a cluster or member of a cluster
the caller may not see is simply not found, so the route answers the same 404 as for an id that does not exist
and other clusters' ids cannot be probed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.auth import Scope
from trellis_common.repositories.pages import page_of
from trellis_surveys.models import clusters, contacts, members


async def add_cluster(session: AsyncSession, row: Mapping[str, Any]) -> None:
    await session.execute(insert(clusters).values(row))


async def cluster_page(
    session: AsyncSession, scope: Scope, *, limit: int, offset: int, name_part: str | None = None
) -> tuple[int, list[dict[str, Any]]]:
    """The clusters in scope (whose name contains ``name_part``, when given), by name: the total and one page."""
    where = [scope.clause(clusters.c.id)]
    if name_part:
        where.append(func.lower(clusters.c.name).contains(name_part.lower(), autoescape=True))
    query = select(clusters).where(*where).order_by(clusters.c.name, clusters.c.id)
    rows, total = await page_of(session, query, limit=limit, offset=offset)
    return total, [dict(row) for row in rows]


async def find_cluster(session: AsyncSession, scope: Scope, cluster_id: str) -> dict[str, Any] | None:
    row = (
        (await session.execute(select(clusters).where(clusters.c.id == cluster_id, scope.clause(clusters.c.id))))
        .mappings()
        .first()
    )
    return dict(row) if row is not None else None


async def cluster_exists(session: AsyncSession, scope: Scope, cluster_id: str) -> bool:
    return bool(
        await session.scalar(select(clusters.c.id).where(clusters.c.id == cluster_id, scope.clause(clusters.c.id)))
    )


async def cluster_timezone(session: AsyncSession, cluster_id: str) -> str | None:
    """The IANA zone a cluster's dates are shown in (for a member's page, reached by its signed link)."""
    found: str | None = await session.scalar(select(clusters.c.timezone).where(clusters.c.id == cluster_id))
    return found


async def member_cluster(session: AsyncSession, scope: Scope, member_id: str) -> str | None:
    """The cluster of a member in scope (``None``: no such member for this caller)."""
    found: str | None = await session.scalar(
        select(members.c.cluster_id).where(members.c.id == member_id, scope.clause(members.c.cluster_id))
    )
    return found


async def member_names(session: AsyncSession, scope: Scope, cluster_id: str) -> list[str]:
    """The names of a cluster's members (an import refuses a name that is taken)."""
    names = await session.scalars(
        select(members.c.name).where(members.c.cluster_id == cluster_id, scope.clause(members.c.cluster_id))
    )
    return list(names)


async def member_page(
    session: AsyncSession,
    scope: Scope,
    cluster_id: str,
    *,
    limit: int,
    offset: int,
    country: str | None = None,
    member_type: str | None = None,
    size_class: str | None = None,
    sector: str | None = None,
    region: str | None = None,
    name_part: str | None = None,
) -> tuple[int, list[str]]:
    """The members of a cluster that match every filter given, by name: the total and the ids of one page.
    ``sector`` is a NACE code or its prefix; ``name_part`` a part of the name, in any case."""
    where: list[ColumnElement[bool]] = [members.c.cluster_id == cluster_id, scope.clause(members.c.cluster_id)]
    if country:
        where.append(members.c.country == country)
    if member_type:
        where.append(members.c.member_type == member_type)
    if size_class:
        where.append(members.c.size_class == size_class)
    if sector:
        where.append(members.c.sector.startswith(sector, autoescape=True))
    if region:
        where.append(members.c.region == region)
    if name_part:
        where.append(func.lower(members.c.name).contains(name_part.lower(), autoescape=True))
    query = select(members.c.id).where(*where).order_by(members.c.name, members.c.id)
    rows, total = await page_of(session, query, limit=limit, offset=offset)
    return total, [str(row["id"]) for row in rows]


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


async def add_member(
    session: AsyncSession, member_id: str, cluster_id: str, fields: Mapping[str, Any], now: datetime
) -> None:
    await session.execute(
        insert(members).values(id=member_id, cluster_id=cluster_id, **fields, created_at=now, updated_at=now)
    )


async def change_member(
    session: AsyncSession, scope: Scope, member_id: str, fields: Mapping[str, Any], now: datetime
) -> None:
    await session.execute(
        update(members)
        .where(members.c.id == member_id, scope.clause(members.c.cluster_id))
        .values(**fields, updated_at=now)
    )


async def remove_member(session: AsyncSession, scope: Scope, member_id: str) -> bool:
    """Delete a member in scope; ``False`` when there is none (its contacts go with ``take_contacts``)."""
    deleted = await session.execute(
        delete(members).where(members.c.id == member_id, scope.clause(members.c.cluster_id))
    )
    return bool(deleted.rowcount)  # type: ignore[attr-defined]


async def take_contacts(session: AsyncSession, member_id: str) -> list[dict[str, Any]]:
    """Delete a member's contacts, returning them (to keep ids that stay, and to erase the others)."""
    found = await session.execute(select(contacts).where(contacts.c.member_id == member_id))
    previous = [dict(row) for row in found.mappings()]
    await session.execute(delete(contacts).where(contacts.c.member_id == member_id))
    return previous


async def add_contacts(session: AsyncSession, people: Sequence[Mapping[str, Any]]) -> None:
    """Insert contact rows, all in one statement."""
    await session.execute(insert(contacts), list(people))


async def remove_contact(session: AsyncSession, member_id: str, contact_id: str, now: datetime) -> None:
    """Delete one contact; its member counts as changed (``updated_at``), as its published state does."""
    await session.execute(delete(contacts).where(contacts.c.id == contact_id))
    await session.execute(update(members).where(members.c.id == member_id).values(updated_at=now))
