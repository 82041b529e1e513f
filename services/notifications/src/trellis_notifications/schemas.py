"""Response models of the notifications API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from trellis_notifications.domain.deliveries import DeliveryStatus


class DeliveryOut(BaseModel):
    """One line of the delivery log."""

    id: str
    template: str
    status: DeliveryStatus
    attempts: int
    last_error: str | None
    message_id: str | None
    to_address: str | None
    contact_id: str
    member_id: str | None
    cluster_id: str | None
    cause_event_id: str
    created_at: datetime
    sent_at: datetime | None


class DeliveryDetail(DeliveryOut):
    correlation_id: str | None
    to_name: str | None
    subject: str | None
    next_attempt_at: datetime | None
    claimed_at: datetime | None


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    total: int
    limit: int
    offset: int


class ContactOut(BaseModel):
    contact_id: str
    member_id: str
    cluster_id: str
    name: str
    email: str
    language: str
    role: str
    updated_at: datetime
