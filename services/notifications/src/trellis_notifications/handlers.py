"""notifications consumes the contact directory, partner matches, review reminders and survey invitations.

Handlers never talk to SMTP: they write delivery rows, rendered now, in the same transaction as the inbox
row, and the sender worker sends them. Events from different topics arrive in no particular order, so an
email whose recipients are not in the directory yet is *parked* and released by the surveys.member.changed
that brings them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.consumer import Incoming
from trellis_common.db import insert_for
from trellis_common.errors import ContractError, PermanentError
from trellis_common.events import (
    ContactRole,
    EventData,
    InvitationRequested,
    MemberChanged,
    PartnersMatched,
    ReviewDue,
)
from trellis_common.logging import get_logger
from trellis_common.unit_of_work import UnitOfWork
from trellis_notifications.domain.deliveries import (
    Audience,
    AudienceKind,
    DeliveryStatus,
    EmailTemplate,
    delivery_id_for,
)
from trellis_notifications.domain.rendering import RenderedEmail, default_renderer, is_web_link
from trellis_notifications.models import contacts, deliveries

log = get_logger(__name__)

_PAYLOAD_MODELS: dict[EmailTemplate, type[EventData]] = {
    EmailTemplate.MATCHES: PartnersMatched,
    EmailTemplate.REVIEW_REMINDER: ReviewDue,
    EmailTemplate.SURVEY_INVITATION: InvitationRequested,
    EmailTemplate.SURVEY_REMINDER: InvitationRequested,
}
# The name each template knows its event by.
_CONTEXT_NAMES: dict[EmailTemplate, str] = {
    EmailTemplate.MATCHES: "matched",
    EmailTemplate.REVIEW_REMINDER: "review",
    EmailTemplate.SURVEY_INVITATION: "invitation",
    EmailTemplate.SURVEY_REMINDER: "invitation",
}


@dataclass(frozen=True)
class Recipient:
    contact_id: str
    member_id: str
    cluster_id: str
    name: str
    email: str
    language: str


@dataclass(frozen=True)
class Notice:
    """An email an event calls for, before it is addressed to anyone."""

    template: EmailTemplate
    audience: Audience
    data: EventData
    cause_event_id: str
    correlation_id: str | None
    cluster_id: str
    member_id: str | None


def render_for(notice: Notice, recipient: Recipient) -> RenderedEmail:
    return default_renderer().render(
        notice.template,
        recipient.language,
        recipient_name=recipient.name,
        **{_CONTEXT_NAMES[notice.template]: notice.data},
    )


async def recipients_of(session: AsyncSession, audience: Audience) -> list[Recipient]:
    query = select(
        contacts.c.contact_id,
        contacts.c.member_id,
        contacts.c.cluster_id,
        contacts.c.name,
        contacts.c.email,
        contacts.c.language,
    )
    if audience.kind is AudienceKind.MEMBER:
        query = query.where(contacts.c.member_id == audience.ident)
    elif audience.kind is AudienceKind.CLUSTER:
        query = query.where(
            contacts.c.cluster_id == audience.ident, contacts.c.role == ContactRole.CLUSTER_MANAGER.value
        )
    else:
        query = query.where(contacts.c.contact_id == audience.ident)
    rows = await session.execute(query.order_by(contacts.c.contact_id))
    return [Recipient(**row) for row in rows.mappings()]


async def deliver_or_park(uow: UnitOfWork, notice: Notice) -> int:
    """Queue one delivery per recipient, or park the notice until its recipients are known."""
    recipients = await recipients_of(uow.session, notice.audience)
    if recipients:
        await _queue(uow.session, notice, recipients, uow.now)
        log.info("emails_queued", template=notice.template.value, recipients=len(recipients))
    else:
        await _park(uow.session, notice, uow.now)
        log.info("email_parked", template=notice.template.value, audience=notice.audience.kind.value)
    return len(recipients)


async def _queue(session: AsyncSession, notice: Notice, recipients: Sequence[Recipient], now: datetime) -> None:
    rows: list[dict[str, Any]] = []
    for recipient in recipients:
        rendered = render_for(notice, recipient)
        rows.append(
            {
                "id": delivery_id_for(notice.cause_event_id, recipient.contact_id, notice.template.value),
                "cause_event_id": notice.cause_event_id,
                "correlation_id": notice.correlation_id,
                "contact_id": recipient.contact_id,
                "member_id": recipient.member_id,
                "cluster_id": notice.cluster_id,
                "template": notice.template.value,
                "to_address": recipient.email,
                "to_name": recipient.name,
                "subject": rendered.subject,
                "text_body": rendered.text,
                "html_body": rendered.html,
                "status": DeliveryStatus.PENDING.value,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
        )
    await session.execute(insert_for(session, deliveries).on_conflict_do_nothing(), rows)


async def _park(session: AsyncSession, notice: Notice, now: datetime) -> None:
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


async def release_parked(uow: UnitOfWork, placeholders: Sequence[str]) -> int:
    """Turn parked notices whose recipients are now known into deliveries (in the caller's transaction)."""
    session = uow.session
    parked = (
        await session.execute(
            select(deliveries)
            .where(deliveries.c.status == DeliveryStatus.PARKED.value, deliveries.c.contact_id.in_(placeholders))
            .order_by(deliveries.c.created_at, deliveries.c.id)
        )
    ).mappings()
    released = 0
    for row in list(parked):
        template = EmailTemplate(row["template"])
        try:
            data = _PAYLOAD_MODELS[template].model_validate(row["payload"])
        except ValidationError as exc:
            # A parked row we cannot read must not dead-letter the directory update that released it.
            await session.execute(
                update(deliveries)
                .where(deliveries.c.id == row["id"])
                .values(status=DeliveryStatus.FAILED.value, last_error=f"parked payload unreadable: {exc}"[:2000])
            )
            log.error("parked_email_unreadable", delivery_id=row["id"])
            continue
        notice = Notice(
            template=template,
            audience=Audience.parse(row["contact_id"]),
            data=data,
            cause_event_id=row["cause_event_id"],
            correlation_id=row["correlation_id"],
            cluster_id=row["cluster_id"],
            member_id=row["member_id"],
        )
        recipients = await recipients_of(session, notice.audience)
        if not recipients:
            continue
        await _queue(session, notice, recipients, uow.now)
        await session.execute(delete(deliveries).where(deliveries.c.id == row["id"]))
        released += 1
        log.info("parked_email_released", template=template.value, recipients=len(recipients))
    return released


def _correlation(incoming: Incoming) -> str:
    return incoming.envelope.correlationid or incoming.envelope.id


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


async def on_member_changed(uow: UnitOfWork, incoming: Incoming) -> None:
    """Keep the contact directory in step with surveys; a tombstone erases the member's personal data."""
    if incoming.data is None:
        member_id = incoming.key or incoming.envelope.subject
        if not member_id:
            raise ContractError("a member tombstone must name the member in its key or subject")
        await erase_member(uow, member_id)
        return
    changed = incoming.require(MemberChanged)
    session = uow.session
    changed_at = _aware(changed.changed_at)
    newest = await session.scalar(
        select(func.max(contacts.c.updated_at)).where(contacts.c.member_id == changed.member_id)
    )
    if newest is not None and newest > changed_at:
        # Only a replay (e.g. from the DLQ) brings an older state after a newer one; keep the newer.
        log.info("member_change_stale", member_id=changed.member_id)
        return
    contact_ids = [c.contact_id for c in changed.contacts]
    if len(set(contact_ids)) != len(contact_ids):
        raise PermanentError(f"member {changed.member_id} lists a contact more than once")
    await session.execute(
        delete(contacts).where(or_(contacts.c.member_id == changed.member_id, contacts.c.contact_id.in_(contact_ids)))
    )
    if changed.contacts:
        await session.execute(
            insert(contacts),
            [
                {
                    "contact_id": c.contact_id,
                    "member_id": changed.member_id,
                    "cluster_id": changed.cluster_id,
                    "name": c.name,
                    "email": str(c.email),
                    "language": c.language,
                    "role": c.role.value,
                    "updated_at": changed_at,
                }
                for c in changed.contacts
            ],
        )
    waiting = [Audience(AudienceKind.MEMBER, changed.member_id).placeholder]
    waiting += [Audience(AudienceKind.CONTACT, contact_id).placeholder for contact_id in contact_ids]
    if any(c.role is ContactRole.CLUSTER_MANAGER for c in changed.contacts):
        waiting.append(Audience(AudienceKind.CLUSTER, changed.cluster_id).placeholder)
    await release_parked(uow, waiting)


async def erase_member(uow: UnitOfWork, member_id: str) -> None:
    """The member was deleted: forget its contacts, cancel what was not sent, blank personal data kept in logs."""
    session = uow.session
    await session.execute(delete(contacts).where(contacts.c.member_id == member_id))
    await session.execute(
        delete(deliveries).where(
            deliveries.c.member_id == member_id, deliveries.c.status == DeliveryStatus.PARKED.value
        )
    )
    await session.execute(
        update(deliveries)
        .where(
            deliveries.c.member_id == member_id,
            deliveries.c.status.in_([DeliveryStatus.PENDING.value, DeliveryStatus.SENDING.value]),
        )
        .values(
            status=DeliveryStatus.CANCELLED.value,
            last_error="cancelled: the member was deleted",
            next_attempt_at=None,
        )
    )
    await session.execute(
        update(deliveries)
        .where(deliveries.c.member_id == member_id)
        .values(to_address=None, to_name=None, text_body=None, html_body=None)
    )
    log.info("member_erased", member_id=member_id)


async def on_partners_matched(uow: UnitOfWork, incoming: Incoming) -> None:
    """One "matches" email to every contact of the member."""
    matched = incoming.require(PartnersMatched)
    if not matched.options:
        log.info("no_partner_options", member_id=matched.member_id)
        return
    await deliver_or_park(
        uow,
        Notice(
            template=EmailTemplate.MATCHES,
            audience=Audience(AudienceKind.MEMBER, matched.member_id),
            data=matched,
            cause_event_id=incoming.envelope.id,
            correlation_id=_correlation(incoming),
            cluster_id=matched.cluster_id,
            member_id=matched.member_id,
        ),
    )


async def on_review_due(uow: UnitOfWork, incoming: Incoming) -> None:
    """One "review_reminder" email to every cluster manager of the cluster."""
    review = incoming.require(ReviewDue)
    await deliver_or_park(
        uow,
        Notice(
            template=EmailTemplate.REVIEW_REMINDER,
            audience=Audience(AudienceKind.CLUSTER, review.cluster_id),
            data=review,
            cause_event_id=incoming.envelope.id,
            correlation_id=_correlation(incoming),
            cluster_id=review.cluster_id,
            member_id=None,
        ),
    )


async def on_invitation_requested(uow: UnitOfWork, incoming: Incoming) -> None:
    """One survey invitation (or the n-th reminder) to the contact named in the event."""
    invitation = incoming.require(InvitationRequested)
    if not is_web_link(invitation.link):
        raise PermanentError(f"invitation {invitation.invitation_id}: the survey link must be an http(s) URL")
    template = EmailTemplate.SURVEY_REMINDER if invitation.reminder > 0 else EmailTemplate.SURVEY_INVITATION
    await deliver_or_park(
        uow,
        Notice(
            template=template,
            audience=Audience(AudienceKind.CONTACT, invitation.contact_id),
            data=invitation,
            cause_event_id=incoming.envelope.id,
            correlation_id=_correlation(incoming),
            cluster_id=invitation.cluster_id,
            member_id=invitation.member_id,
        ),
    )
