"""Reads and writes of the ingress tables: the events accepted over HTTP, by CloudEvents id."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_ingress.models import accepted_events


class EventIdTaken(Exception):
    """Another request accepted an event under this id after this one looked: this transaction can go no further,
    and a new one finds what the other stored."""


async def accepted_digest(session: AsyncSession, event_id: str) -> str | None:
    """The digest of the event accepted under ``event_id``; None when none was."""
    query = select(accepted_events.c.digest).where(accepted_events.c.event_id == event_id)
    return (await session.execute(query)).scalar_one_or_none()


async def record_accepted(
    session: AsyncSession,
    *,
    event_id: str,
    source: str,
    event_type: str,
    digest: str,
    caller: str,
    accepted_at: datetime,
) -> None:
    """The event is accepted; raises ``EventIdTaken`` when another request accepted one under its id meanwhile."""
    try:
        await session.execute(
            accepted_events.insert().values(
                event_id=event_id,
                source=source,
                event_type=event_type,
                digest=digest,
                caller=caller,
                accepted_at=accepted_at,
            )
        )
    except IntegrityError as exc:
        raise EventIdTaken(event_id) from exc
