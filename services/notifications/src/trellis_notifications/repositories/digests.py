"""Match runs kept for a contact's weekly digest: added as they come, counted for the API, taken (marked with
the digest's id) when the digest is written."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.auth import Scope
from trellis_common.db import insert_for
from trellis_notifications.models import digest_items


async def add_digest_items(session: AsyncSession, items: Sequence[dict[str, Any]]) -> None:
    """Keep match runs for their contacts' digests, one statement for them all; a redelivered event's items
    are there already and stay as they are."""
    await session.execute(insert_for(session, digest_items).on_conflict_do_nothing(), items)


async def contacts_with_digest_due(session: AsyncSession, due_at: datetime) -> list[str]:
    """The contacts with match runs waiting from before ``due_at``."""
    waiting = await session.execute(
        select(digest_items.c.contact_id)
        .where(digest_items.c.digest_id.is_(None), digest_items.c.created_at < due_at)
        .distinct()
        .order_by(digest_items.c.contact_id)
    )
    return list(waiting.scalars())


async def lock_items_due(session: AsyncSession, contact_id: str, due_at: datetime) -> list[RowMapping]:
    """The contact's match runs waiting from before ``due_at``, oldest first, locked until the transaction ends
    (two replicas firing the same digest wait for each other)."""
    items = await session.execute(
        select(digest_items)
        .where(
            digest_items.c.contact_id == contact_id,
            digest_items.c.digest_id.is_(None),
            digest_items.c.created_at < due_at,
        )
        .order_by(digest_items.c.created_at, digest_items.c.id)
        .with_for_update()
    )
    return list(items.mappings())


async def take_items(session: AsyncSession, item_ids: Sequence[str], digest_id: str) -> None:
    """The digest ``digest_id`` took these items: they wait no more."""
    await session.execute(update(digest_items).where(digest_items.c.id.in_(item_ids)).values(digest_id=digest_id))


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
