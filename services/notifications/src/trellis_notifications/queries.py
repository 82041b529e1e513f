"""The API's reads, each filtered by the caller's scope in SQL: a row of another cluster is never loaded, so
a route cannot hand it out by mistake, and it is "not found" exactly like an id that does not exist.

Deliveries without a cluster (``cluster_id`` NULL) belong to the platform: only platform-wide scopes see them
(``Scope.clause`` never matches NULL).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.auth import Scope
from trellis_notifications.domain.preferences import address_key
from trellis_notifications.models import deliveries, digest_items, suppressions
from trellis_notifications.repository import require_platform_wide


@dataclass(frozen=True)
class DeliveryFilter:
    cluster_id: str | None = None
    member_id: str | None = None
    contact_id: str | None = None
    template: str | None = None
    status: str | None = None

    def clauses(self) -> list[ColumnElement[bool]]:
        wanted = {
            deliveries.c.cluster_id: self.cluster_id,
            deliveries.c.member_id: self.member_id,
            deliveries.c.contact_id: self.contact_id,
            deliveries.c.template: self.template,
            deliveries.c.status: self.status,
        }
        return [column == value for column, value in wanted.items() if value is not None]


async def delivery_page(
    session: AsyncSession, scope: Scope, where: DeliveryFilter, limit: int, offset: int
) -> tuple[list[RowMapping], int]:
    """The delivery log newest first, and how many rows match. A filter on a cluster outside the scope
    gives an empty page, the same as a cluster that has no deliveries."""
    conditions = [scope.clause(deliveries.c.cluster_id), *where.clauses()]
    total = await session.scalar(select(func.count()).select_from(deliveries).where(*conditions))
    rows = await session.execute(
        select(deliveries)
        .where(*conditions)
        .order_by(deliveries.c.created_at.desc(), deliveries.c.id)
        .limit(limit)
        .offset(offset)
    )
    return list(rows.mappings()), total or 0


async def find_delivery(session: AsyncSession, scope: Scope, delivery_id: str) -> RowMapping | None:
    query = select(deliveries).where(deliveries.c.id == delivery_id, scope.clause(deliveries.c.cluster_id))
    return (await session.execute(query)).mappings().first()


async def waiting_for_digest(session: AsyncSession, scope: Scope, contact_id: str) -> int:
    """How many match runs wait for the contact's next weekly digest."""
    count = await session.scalar(
        select(func.count())
        .select_from(digest_items)
        .where(
            digest_items.c.contact_id == contact_id,
            digest_items.c.digest_id.is_(None),
            scope.clause(digest_items.c.cluster_id),
        )
    )
    return count or 0


async def suppression_page(
    session: AsyncSession, scope: Scope, address: str | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """The platform-wide suppression list: platform-wide scopes only, since which addresses of a cluster
    bounced is none of another cluster's business."""
    require_platform_wide(scope)
    where = [] if address is None else [suppressions.c.address_hash == address_key(address)]
    total = await session.scalar(select(func.count()).select_from(suppressions).where(*where))
    rows = await session.execute(
        select(suppressions)
        .where(*where)
        .order_by(suppressions.c.created_at.desc(), suppressions.c.address_hash)
        .limit(limit)
        .offset(offset)
    )
    return [dict(row) for row in rows.mappings()], total or 0
