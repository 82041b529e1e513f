"""Erasure in the messaging tables: the outbox rows that may carry an erased person, and deleting them.

Which of them really mention the person is decided in Python (``trellis_common.privacy``), on the decoded
payload, headers and error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.db import outbox


async def erasable_outbox_rows(
    session: AsyncSession, *, keys: Sequence[str] | None, superseded_types: Sequence[str]
) -> Sequence[Row[*tuple[Any, ...]]]:
    """The rows (of ``keys``, if given) whose deletion cannot change what the relay publishes: published or set
    aside for good, and the unpublished ones of ``superseded_types``; id, headers, payload and error of each."""
    done = or_(outbox.c.sent_at.is_not(None), outbox.c.failed_at.is_not(None))
    if superseded_types:
        done = or_(done, and_(outbox.c.sent_at.is_(None), outbox.c.event_type.in_(list(superseded_types))))
    query = select(outbox.c.id, outbox.c.headers, outbox.c.payload, outbox.c.error).where(done)
    if keys is not None:
        query = query.where(outbox.c.key.in_(list(keys)))
    return (await session.execute(query)).all()


async def delete_outbox_rows(session: AsyncSession, row_ids: Sequence[int]) -> None:
    await session.execute(delete(outbox).where(outbox.c.id.in_(row_ids)))
