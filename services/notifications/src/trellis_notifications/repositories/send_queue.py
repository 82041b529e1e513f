"""The sender's side of the delivery log: due deliveries claimed, claims renewed, outcomes recorded.

A delivery is claimed by marking it ``sending`` with one more attempt. It stays the claimant's while its row is
still ``sending`` at that attempt count: every later write is fenced on (status, attempts), so a sender whose
lease ran out cannot overwrite what the sender that took the row over recorded. Functions that record an
outcome say whether the row was still ours.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Update, and_, or_, select, tuple_, update
from sqlalchemy.engine import Result, RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_notifications.domain.deliveries import DeliveryStatus
from trellis_notifications.models import deliveries


class Claim(Protocol):
    """A delivery as its sender claimed it: the attempt count includes the claimed attempt."""

    @property
    def id(self) -> str: ...

    @property
    def attempts(self) -> int: ...


def _affected(result: Result[Any]) -> int:
    """Rows an UPDATE matched (a CursorResult attribute the generic Result type does not declare)."""
    return int(result.rowcount)  # type: ignore[attr-defined]


def _fenced_as_read(row: RowMapping) -> Update:
    """An update of the row if it is still as it was read (status and attempts)."""
    return update(deliveries).where(
        deliveries.c.id == row["id"],
        deliveries.c.status == row["status"],
        deliveries.c.attempts == row["attempts"],
    )


def _fenced(claimed: Sequence[Claim]) -> Update:
    """An update of the rows still claimed as we claimed them (status sending, the attempt we made)."""
    return update(deliveries).where(
        tuple_(deliveries.c.id, deliveries.c.attempts).in_([(d.id, d.attempts) for d in claimed]),
        deliveries.c.status == DeliveryStatus.SENDING.value,
    )


async def lock_due(session: AsyncSession, now: datetime, lease_expired: datetime, limit: int) -> list[RowMapping]:
    """Up to ``limit`` deliveries to send, soonest due first, locked for this transaction and skipped by any
    other sender's: pending ones that are due, and those left ``sending`` by a sender whose lease expired."""
    due = or_(
        and_(deliveries.c.status == DeliveryStatus.PENDING.value, deliveries.c.next_attempt_at <= now),
        and_(deliveries.c.status == DeliveryStatus.SENDING.value, deliveries.c.claimed_at < lease_expired),
    )
    result = await session.execute(
        select(deliveries)
        .where(due)
        .order_by(deliveries.c.next_attempt_at, deliveries.c.created_at, deliveries.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(result.mappings())


async def skip_suppressed(session: AsyncSession, row: RowMapping) -> None:
    """A delivery queued before its address bounced hard: it must not go out any more."""
    await session.execute(
        _fenced_as_read(row).values(
            status=DeliveryStatus.SKIPPED.value,
            last_error="address suppressed after a hard bounce",
            next_attempt_at=None,
        )
    )


async def mark_sending(session: AsyncSession, wanted: Sequence[tuple[RowMapping, str]], now: datetime) -> set[str]:
    """Claim the rows read with their Message-IDs, in one statement per kind of row; returns the ids now ours.
    Fenced on the (status, attempts) read, so two senders on a database without SKIP LOCKED never both win."""
    claimed: set[str] = set()
    named = [row for row, message_id in wanted if row["message_id"] == message_id]
    if named:
        fences = [(row["id"], row["status"], row["attempts"]) for row in named]
        result = await session.execute(
            update(deliveries)
            .where(tuple_(deliveries.c.id, deliveries.c.status, deliveries.c.attempts).in_(fences))
            .values(status=DeliveryStatus.SENDING.value, attempts=deliveries.c.attempts + 1, claimed_at=now)
            .returning(deliveries.c.id)
        )
        claimed.update(result.scalars().all())
    # Rows queued by the first release of this service have no Message-ID yet: they get it here, one by one.
    for row, message_id in ((r, m) for r, m in wanted if r["message_id"] != m):
        result = await session.execute(
            _fenced_as_read(row).values(
                status=DeliveryStatus.SENDING.value,
                attempts=row["attempts"] + 1,
                claimed_at=now,
                message_id=message_id,
            )
        )
        if _affected(result) == 1:
            claimed.add(row["id"])
    return claimed


async def renew_claims(session: AsyncSession, claimed: Sequence[Claim], now: datetime) -> set[str]:
    """Extend the lease of our claims from ``now``; returns the ids still ours."""
    if not claimed:
        return set()
    result = await session.execute(_fenced(claimed).values(claimed_at=now).returning(deliveries.c.id))
    return set(result.scalars().all())


async def record_sent(session: AsyncSession, sent: Sequence[Claim], now: datetime) -> set[str]:
    """The relay accepted these emails; returns the ids whose outcome was ours to record."""
    result = await session.execute(
        _fenced(sent).values(status=DeliveryStatus.SENT.value, sent_at=now, last_error=None).returning(deliveries.c.id)
    )
    return set(result.scalars().all())


async def record_failed(session: AsyncSession, claim: Claim, error: str) -> bool:
    """The email will never go out; False when the row was no longer ours."""
    result = await session.execute(
        _fenced([claim]).values(status=DeliveryStatus.FAILED.value, last_error=error, next_attempt_at=None)
    )
    return _affected(result) == 1


async def retry_at(session: AsyncSession, claim: Claim, error: str, when: datetime) -> bool:
    """Try the email again at ``when``; False when the row was no longer ours."""
    result = await session.execute(
        _fenced([claim]).values(status=DeliveryStatus.PENDING.value, last_error=error, next_attempt_at=when)
    )
    return _affected(result) == 1


async def release(session: AsyncSession, claim: Claim) -> None:
    """Hand a claimed email back untouched (pending, the attempt not counted), so it is not taken for a crash."""
    await session.execute(
        _fenced([claim]).values(status=DeliveryStatus.PENDING.value, attempts=claim.attempts - 1, claimed_at=None)
    )
