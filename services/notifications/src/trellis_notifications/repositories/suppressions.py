"""The suppression list: addresses that bounced hard, kept as hashes, that get no more email. It belongs to no
cluster (an address may be a contact in several), so only platform-wide scopes read or change it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.auth import Scope
from trellis_common.db import insert_for
from trellis_common.repositories.in_list import in_list
from trellis_common.repositories.pages import page_of
from trellis_notifications.domain.deliveries import OPEN_STATUSES, DeliveryStatus
from trellis_notifications.domain.preferences import address_key
from trellis_notifications.models import deliveries, suppressions


def require_platform_wide(scope: Scope) -> None:
    """The suppression list belongs to no cluster: reading or changing it is platform-wide work only."""
    if not scope.allows(None):
        raise PermissionError(f"{scope.subject} may not use the platform-wide suppression list")


async def suppressed_keys(session: AsyncSession, addresses: Iterable[str]) -> set[str]:
    """Which of these addresses are suppressed; for the service's own decisions (the list is platform-wide)."""
    keys = sorted({address_key(a) for a in addresses if a})
    if not keys:
        return set()
    rows = await session.execute(select(suppressions.c.address_hash).where(in_list(suppressions.c.address_hash, keys)))
    return set(rows.scalars())


async def suppress(
    session: AsyncSession, scope: Scope, address: str, reason: str, delivery_id: str | None, now: datetime
) -> int:
    """Put an address that bounced hard on the suppression list and skip everything still queued for it.

    Only a platform-wide scope may add to the list. Returns how many queued deliveries were skipped.
    """
    require_platform_wide(scope)
    await session.execute(
        insert_for(session, suppressions)
        .values(address_hash=address_key(address), reason=reason, delivery_id=delivery_id, created_at=now)
        .on_conflict_do_nothing()
    )
    where = [func.lower(deliveries.c.to_address) == address.strip().lower(), deliveries.c.status.in_(OPEN_STATUSES)]
    if delivery_id is not None:
        where.append(deliveries.c.id != delivery_id)
    result = await session.execute(
        update(deliveries)
        .where(*where)
        .values(
            status=DeliveryStatus.SKIPPED.value,
            last_error="address suppressed after a hard bounce",
            next_attempt_at=None,
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def unsuppress(session: AsyncSession, scope: Scope, address: str) -> bool:
    """Take an address off the suppression list; False when it was not on it."""
    require_platform_wide(scope)
    result = await session.execute(delete(suppressions).where(suppressions.c.address_hash == address_key(address)))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def suppression_page(
    session: AsyncSession, scope: Scope, address: str | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """The suppression list, newest first, and how many entries match: platform-wide scopes only, since which
    addresses of a cluster bounced is none of another cluster's business."""
    require_platform_wide(scope)
    where = [] if address is None else [suppressions.c.address_hash == address_key(address)]
    query = select(suppressions).where(*where).order_by(suppressions.c.created_at.desc(), suppressions.c.address_hash)
    rows, total = await page_of(session, query, limit=limit, offset=offset)
    return [dict(row) for row in rows], total
