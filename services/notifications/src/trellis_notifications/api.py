"""REST API of the notifications service: the delivery log and the contact directory projection."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import func, select

from trellis_common.app import Runtime, not_found
from trellis_notifications.domain.deliveries import DeliveryStatus
from trellis_notifications.models import contacts, deliveries
from trellis_notifications.schemas import ContactOut, DeliveryDetail, DeliveryPage

router = APIRouter()

IdQuery = Annotated[str | None, Query(min_length=1, max_length=128)]


@router.get(
    "/deliveries",
    response_model=DeliveryPage,
    tags=["deliveries"],
    summary="The delivery log, newest first",
)
async def list_deliveries(
    runtime: Runtime,
    cluster_id: IdQuery = None,
    member_id: IdQuery = None,
    status: Annotated[DeliveryStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    where = []
    if cluster_id is not None:
        where.append(deliveries.c.cluster_id == cluster_id)
    if member_id is not None:
        where.append(deliveries.c.member_id == member_id)
    if status is not None:
        where.append(deliveries.c.status == status.value)
    async with runtime.db.sessions() as session:
        total = await session.scalar(select(func.count()).select_from(deliveries).where(*where))
        rows = (
            await session.execute(
                select(deliveries)
                .where(*where)
                .order_by(deliveries.c.created_at.desc(), deliveries.c.id)
                .limit(limit)
                .offset(offset)
            )
        ).mappings()
        items = [dict(row) for row in rows]
    return {"items": items, "total": total or 0, "limit": limit, "offset": offset}


@router.get("/deliveries/{delivery_id}", response_model=DeliveryDetail, tags=["deliveries"])
async def get_delivery(delivery_id: str, runtime: Runtime) -> dict[str, Any]:
    async with runtime.db.sessions() as session:
        row = (await session.execute(select(deliveries).where(deliveries.c.id == delivery_id))).mappings().first()
    if row is None:
        raise not_found("delivery", delivery_id)
    return dict(row)


@router.get(
    "/contacts/{contact_id}",
    response_model=ContactOut,
    tags=["contacts"],
    summary="A contact as projected from surveys.member.changed",
)
async def get_contact(contact_id: str, runtime: Runtime) -> dict[str, Any]:
    async with runtime.db.sessions() as session:
        row = (await session.execute(select(contacts).where(contacts.c.contact_id == contact_id))).mappings().first()
    if row is None:
        raise not_found("contact", contact_id)
    return dict(row)
