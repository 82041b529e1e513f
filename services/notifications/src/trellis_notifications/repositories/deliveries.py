"""The delivery log: one row per (event, recipient, template), written when an email is queued, parked until
its recipients are known, or skipped with its reason; the API's reads of it, and failed emails made due again.
The sender's claims and outcomes are in ``send_queue``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.auth import Scope
from trellis_common.db import insert_for
from trellis_common.repositories.in_list import in_list
from trellis_common.repositories.pages import page_of
from trellis_notifications.domain.deliveries import DeliveryStatus, Notice, delivery_id_for
from trellis_notifications.models import deliveries


async def add_deliveries(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Queue deliveries, one statement for them all (every row carries every column); a redelivered event's
    rows are there already and stay as they are."""
    await session.execute(insert_for(session, deliveries).on_conflict_do_nothing(), rows)


async def add_delivery(session: AsyncSession, row: dict[str, Any]) -> None:
    """Queue one delivery whose id is new (e.g. a weekly digest, claimed once per contact and week)."""
    await session.execute(deliveries.insert().values(**row))


async def park(session: AsyncSession, notice: Notice, now: datetime) -> None:
    """Keep a notice whose recipients are not in the directory yet, with its event's data, until they are;
    parking the same notice again changes nothing."""
    placeholder = notice.audience.placeholder
    await session.execute(
        insert_for(session, deliveries)
        .values(
            id=delivery_id_for(notice.cause_event_id, placeholder, notice.template.value),
            cause_event_id=notice.cause_event_id,
            correlation_id=notice.correlation_id,
            contact_id=placeholder,
            member_id=notice.member_id,
            cluster_id=notice.cluster_id,
            template=notice.template.value,
            status=DeliveryStatus.PARKED.value,
            attempts=0,
            created_at=now,
            payload=notice.data.model_dump(mode="json"),
        )
        .on_conflict_do_nothing()
    )


async def parked_for(session: AsyncSession, placeholders: Sequence[str]) -> list[RowMapping]:
    """The parked notices waiting for these audiences, oldest first."""
    rows = await session.execute(
        select(deliveries)
        .where(deliveries.c.status == DeliveryStatus.PARKED.value, in_list(deliveries.c.contact_id, placeholders))
        .order_by(deliveries.c.created_at, deliveries.c.id)
    )
    return list(rows.mappings())


async def fail_parked(session: AsyncSession, delivery_id: str, error: str) -> None:
    """A parked notice that can never be sent (its data cannot be read): failed, with the reason."""
    await session.execute(
        update(deliveries)
        .where(deliveries.c.id == delivery_id)
        .values(status=DeliveryStatus.FAILED.value, last_error=error)
    )


async def unpark(session: AsyncSession, delivery_id: str) -> None:
    """A parked notice was released: its deliveries replace it."""
    await session.execute(delete(deliveries).where(deliveries.c.id == delivery_id))


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
    query = select(deliveries).where(*conditions).order_by(deliveries.c.created_at.desc(), deliveries.c.id)
    return await page_of(session, query, limit=limit, offset=offset)


async def find_delivery(session: AsyncSession, scope: Scope, delivery_id: str) -> RowMapping | None:
    query = select(deliveries).where(deliveries.c.id == delivery_id, scope.clause(deliveries.c.cluster_id))
    return (await session.execute(query)).mappings().first()


@dataclass(frozen=True)
class ResendFilter:
    """Which failed deliveries to send again; nothing set: all of the scope's."""

    cluster_id: str | None = None
    template: str | None = None
    delivery_ids: tuple[str, ...] | None = None
    failed_since: datetime | None = None

    def clauses(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.cluster_id is not None:
            found.append(deliveries.c.cluster_id == self.cluster_id)
        if self.template is not None:
            found.append(deliveries.c.template == self.template)
        if self.delivery_ids is not None:
            found.append(deliveries.c.id.in_(self.delivery_ids))
        if self.failed_since is not None:
            found.append(deliveries.c.created_at >= self.failed_since)
        return found


async def requeue_failed(
    session: AsyncSession, scope: Scope, where: ResendFilter, now: datetime, *, limit: int, dry_run: bool
) -> tuple[list[str], bool]:
    """The failed deliveries in the scope that ``where`` picks, oldest first, at most ``limit``, made due again
    (fresh attempts, due now); whether more match. Only failed ones change, so asking twice sends once."""
    conditions = [scope.clause(deliveries.c.cluster_id), deliveries.c.status == DeliveryStatus.FAILED.value]
    conditions += where.clauses()
    found = await session.execute(
        select(deliveries.c.id).where(*conditions).order_by(deliveries.c.created_at, deliveries.c.id).limit(limit + 1)
    )
    ids = [str(delivery_id) for delivery_id in found.scalars()]
    chosen, more = ids[:limit], len(ids) > limit
    if chosen and not dry_run:
        await session.execute(
            update(deliveries)
            .where(deliveries.c.id.in_(chosen), deliveries.c.status == DeliveryStatus.FAILED.value)
            .values(status=DeliveryStatus.PENDING.value, attempts=0, next_attempt_at=now, claimed_at=None)
        )
    return chosen, more
