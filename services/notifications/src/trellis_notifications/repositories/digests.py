"""Match runs kept for a contact's weekly digest: added as they come, counted for the API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.auth import Scope
from trellis_common.db import insert_for
from trellis_notifications.models import digest_items


async def add_digest_items(session: AsyncSession, items: Sequence[dict[str, Any]]) -> None:
    """Keep match runs for their contacts' digests, one statement for them all; a redelivered event's items
    are there already and stay as they are."""
    await session.execute(insert_for(session, digest_items).on_conflict_do_nothing(), items)


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
