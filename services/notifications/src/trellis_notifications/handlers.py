"""notifications consumes the contact directory, partner matches, review reminders and survey invitations.

Handlers never talk to SMTP: they write delivery rows, rendered now, in the same transaction as the inbox
row, and the sender worker sends them. What each contact has chosen decides per recipient: send, collect
for the weekly digest, or skip (unsubscribed, or the address bounced hard); skipped emails are kept in the
delivery log with the reason. Events from different topics arrive in no particular order, so an email
whose recipients are not in the directory yet is *parked* and released by the surveys.member.changed that
brings them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.auth import Scope
from trellis_common.consumer import Handling, Incoming
from trellis_common.db import insert_for
from trellis_common.errors import ContractError, PermanentError
from trellis_common.events import (
    ContactRole,
    EventData,
    InvitationRequested,
    MemberChanged,
    PartnersMatched,
    ReminderKind,
    ReviewDue,
)
from trellis_common.logging import get_logger
from trellis_common.names import forget_member, names_of, record_member
from trellis_common.settings import narrowed
from trellis_common.unit_of_work import UnitOfWork
from trellis_notifications.composer import Recipient, compose
from trellis_notifications.domain.deliveries import (
    DELIVERIES_DUE,
    Audience,
    AudienceKind,
    DeliveryStatus,
    EmailTemplate,
    delivery_id_for,
)
from trellis_notifications.domain.preferences import (
    DEFAULT_PREFERENCES,
    REDIRECTABLE,
    Route,
    address_key,
    decide,
)
from trellis_notifications.domain.rendering import is_web_link
from trellis_notifications.models import NAMES, contacts, deliveries, digest_items
from trellis_notifications.privacy import erase_contacts
from trellis_notifications.repositories.preferences import apply_redirects, load_preferences
from trellis_notifications.repositories.suppressions import suppressed_keys
from trellis_notifications.settings import NotificationsSettings

log = get_logger(__name__)
SERVICE = Scope.everything("notifications-handlers")  # event handlers act for every cluster

_PAYLOAD_MODELS: dict[EmailTemplate, type[EventData]] = {
    EmailTemplate.MATCHES: PartnersMatched,
    EmailTemplate.ANSWERS_RECEIVED: PartnersMatched,
    EmailTemplate.REVIEW_REMINDER: ReviewDue,
    EmailTemplate.REVIEW_ESCALATION: ReviewDue,
    EmailTemplate.SURVEY_INVITATION: InvitationRequested,
    EmailTemplate.SURVEY_REMINDER: InvitationRequested,
}
_AUDIENCE_ROLES: dict[AudienceKind, tuple[ContactRole, ...]] = {
    AudienceKind.CLUSTER: (ContactRole.CLUSTER_MANAGER,),
    AudienceKind.BOARD: (ContactRole.CLUSTER_MANAGER, ContactRole.BOARD_MEMBER),
}
# Fixed forever: digest item ids derived from it must stay the same across releases.
_DIGEST_ITEM_NAMESPACE = uuid.UUID("5f0b8d1e-2c4a-4e7b-9a61-3d8f2b7c0e14")


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
    also: tuple[str, ...] = ()  # contacts named by the event besides the audience (a strategy's owners)


def named_contacts(data: EventData) -> tuple[str, ...]:
    """Contacts an event names beyond its audience: the owners of a strategy get its review emails too."""
    return tuple(data.owner_contact_ids) if isinstance(data, ReviewDue) else ()


_RECIPIENT_COLUMNS = (
    contacts.c.contact_id,
    contacts.c.member_id,
    contacts.c.cluster_id,
    contacts.c.name,
    contacts.c.email,
    contacts.c.language,
)


async def recipients_of(
    session: AsyncSession, cluster_id: str | None, audience: Audience, also: Sequence[str] = ()
) -> list[Recipient]:
    """The contacts an email goes to, only ever within the event's cluster: an event naming another cluster's
    member or contact (a mistaken or hostile producer) must not reach that cluster's people."""
    query = select(*_RECIPIENT_COLUMNS)
    if audience.kind is AudienceKind.MEMBER:
        condition = contacts.c.member_id == audience.ident
    elif audience.kind in _AUDIENCE_ROLES:
        roles = [role.value for role in _AUDIENCE_ROLES[audience.kind]]
        condition = (contacts.c.cluster_id == audience.ident) & contacts.c.role.in_(roles)
    else:
        condition = contacts.c.contact_id == audience.ident
    if also:
        condition = or_(condition, contacts.c.contact_id.in_(list(also)))
    if cluster_id is not None:
        condition = and_(condition, contacts.c.cluster_id == cluster_id)
    rows = await session.execute(query.where(condition).order_by(contacts.c.contact_id))
    return [Recipient(**row) for row in rows.mappings()]


async def deliver_or_park(uow: UnitOfWork, notice: Notice) -> int:
    """Queue one delivery per recipient, or park the notice until its recipients are known."""
    return (await deliver_or_park_many([(uow, notice)]))[0]


async def deliver_or_park_many(notices: Sequence[tuple[UnitOfWork, Notice]]) -> list[int]:
    """``deliver_or_park`` for the notices of a consumer batch (units of work sharing one session): the
    directory, preferences and suppressions are read once for all of them. Returns the recipients per notice."""
    if not notices:
        return []
    session = notices[0][0].session
    found = await _recipients_of_many(session, [notice for _, notice in notices])
    addressed = []
    for (uow, notice), recipients in zip(notices, found, strict=True):
        if recipients:
            addressed.append((uow, notice, recipients))
            log.info("emails_queued", template=notice.template.value, recipients=len(recipients))
        else:
            await _park(session, notice, uow.now)
            log.info("email_parked", template=notice.template.value, audience=notice.audience.kind.value)
    await queue_many(addressed)
    return [len(recipients) for recipients in found]


async def _recipients_of_many(session: AsyncSession, notices: Sequence[Notice]) -> list[list[Recipient]]:
    """``recipients_of`` per notice; the members' own emails (the common case) in one query."""
    plain = [
        n.audience.ident for n in notices if n.audience.kind is AudienceKind.MEMBER and not n.also and n.cluster_id
    ]
    by_member: dict[str, list[Recipient]] = {}
    if plain:
        rows = await session.execute(
            select(*_RECIPIENT_COLUMNS)
            .where(contacts.c.member_id.in_(sorted(set(plain))))
            .order_by(contacts.c.contact_id)
        )
        for row in rows.mappings():
            by_member.setdefault(row["member_id"], []).append(Recipient(**row))
    out = []
    for notice in notices:
        if notice.audience.kind is AudienceKind.MEMBER and not notice.also and notice.cluster_id:
            # Only ever within the event's cluster, as recipients_of.
            out.append([r for r in by_member.get(notice.audience.ident, []) if r.cluster_id == notice.cluster_id])
        else:
            out.append(await recipients_of(session, notice.cluster_id, notice.audience, notice.also))
    return out


def _row_base(notice: Notice, recipient: Recipient, now: datetime) -> dict[str, Any]:
    return {
        "id": delivery_id_for(notice.cause_event_id, recipient.contact_id, notice.template.value),
        "cause_event_id": notice.cause_event_id,
        "correlation_id": notice.correlation_id,
        "contact_id": recipient.contact_id,
        "member_id": recipient.member_id,
        "cluster_id": notice.cluster_id,
        "template": notice.template.value,
        "to_address": recipient.email,
        "to_name": recipient.name,
        "from_name": None,
        "attempts": 0,
        "created_at": now,
        # Every row carries every column, so one executemany inserts them all.
        "subject": None,
        "text_body": None,
        "html_body": None,
        "unsubscribe_url": None,
        "attachments": None,
        "message_id": None,
        "next_attempt_at": None,
        "last_error": None,
    }


async def queue(uow: UnitOfWork, notice: Notice, recipients: Sequence[Recipient]) -> None:
    """One delivery row per recipient (pending, or skipped with its reason), or a digest item."""
    await queue_many([(uow, notice, recipients)])


async def queue_many(addressed: Sequence[tuple[UnitOfWork, Notice, Sequence[Recipient]]]) -> None:
    """``queue`` for many notices whose units of work share one session: one read of the contacts' choices
    and of the suppression list, one insert of deliveries and one of digest items."""
    if not addressed:
        return
    first = addressed[0][0]
    session, settings = first.session, narrowed(first.settings, NotificationsSettings)
    routed = []
    for uow, notice, recipients in addressed:
        if notice.template in REDIRECTABLE:
            recipients = await apply_redirects(session, SERVICE, recipients)
        routed.append((uow, notice, recipients))
    everyone = [r for _, _, recipients in routed for r in recipients]
    chosen = await load_preferences(session, SERVICE, sorted({r.contact_id for r in everyone}))
    names = await names_of(
        session,
        NAMES,
        member_ids=[r.member_id for r in everyone],
        cluster_ids=[notice.cluster_id for _, notice, _ in routed],
    )
    suppressed = await suppressed_keys(session, sorted({r.email for r in everyone}))
    rows: list[dict[str, Any]] = []
    waiting: list[dict[str, Any]] = []
    for uow, notice, recipients in routed:
        now = uow.now
        for recipient in recipients:
            preferences = chosen.get(recipient.contact_id, DEFAULT_PREFERENCES)
            decision = decide(notice.template, preferences, suppressed=address_key(recipient.email) in suppressed)
            if decision.route is Route.DIGEST:
                waiting.append(_digest_item(notice, recipient, now))
                continue
            row = _row_base(notice, recipient, now)
            if decision.route is Route.SKIP:
                row |= {"status": DeliveryStatus.SKIPPED.value, "last_error": decision.reason}
                log.info("email_skipped", template=notice.template.value, reason=decision.reason)
            else:
                row |= compose(
                    settings,
                    notice.template,
                    recipient,
                    notice.data,
                    cause_event_id=notice.cause_event_id,
                    now=now,
                    cluster_name=names.cluster(notice.cluster_id),
                    member_name=names.member(recipient.member_id),
                )
                row |= {"status": DeliveryStatus.PENDING.value, "next_attempt_at": now}
                uow.wake(DELIVERIES_DUE)
            rows.append(row)
    if rows:
        await session.execute(insert_for(session, deliveries).on_conflict_do_nothing(), rows)
    if waiting:
        await session.execute(insert_for(session, digest_items).on_conflict_do_nothing(), waiting)
        log.info("matches_kept_for_digest", contacts=len(waiting))


def _digest_item(notice: Notice, recipient: Recipient, now: datetime) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid5(_DIGEST_ITEM_NAMESPACE, f"{notice.cause_event_id}|{recipient.contact_id}")),
        "contact_id": recipient.contact_id,
        "member_id": recipient.member_id,
        "cluster_id": notice.cluster_id,
        "cause_event_id": notice.cause_event_id,
        "correlation_id": notice.correlation_id,
        "payload": notice.data.model_dump(mode="json"),
        "created_at": now,
    }


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
        except (ValidationError, KeyError) as exc:
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
            also=named_contacts(data),
        )
        recipients = await recipients_of(session, notice.cluster_id, notice.audience, notice.also)
        if not recipients:
            continue
        await queue(uow, notice, recipients)
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
    await record_member(session, NAMES, changed)  # keeps the newer state by itself
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
    previous = set(
        (await session.execute(select(contacts.c.contact_id).where(contacts.c.member_id == changed.member_id)))
        .scalars()
        .all()
    )
    # A contact no longer listed was erased or left its member: it is forgotten here too (GDPR erasure).
    await erase_contacts(session, sorted(previous - set(contact_ids)))
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
    roles = {c.role for c in changed.contacts}
    if ContactRole.CLUSTER_MANAGER in roles:
        waiting.append(Audience(AudienceKind.CLUSTER, changed.cluster_id).placeholder)
    if roles & {ContactRole.CLUSTER_MANAGER, ContactRole.BOARD_MEMBER}:
        waiting.append(Audience(AudienceKind.BOARD, changed.cluster_id).placeholder)
    await release_parked(uow, waiting)


async def erase_member(uow: UnitOfWork, member_id: str) -> None:
    """The member was deleted: forget its contacts and their choices, cancel what was not sent, blank
    personal data kept in logs."""
    session = uow.session
    erased = (await session.execute(select(contacts.c.contact_id).where(contacts.c.member_id == member_id))).scalars()
    await erase_contacts(session, list(erased))
    await session.execute(delete(digest_items).where(digest_items.c.member_id == member_id))
    await session.execute(delete(contacts).where(contacts.c.member_id == member_id))
    await forget_member(session, NAMES, member_id)
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
        .values(
            to_address=None,
            to_name=None,
            subject=None,
            text_body=None,
            html_body=None,
            attachments=None,
            unsubscribe_url=None,
            payload=None,
        )
    )
    log.info("member_erased", member_id=member_id)


async def on_partners_matched(uow: UnitOfWork, incoming: Incoming) -> None:
    """One "matches" email to every contact of the member (or a digest item, as each contact chose)."""
    await on_partners_matched_batch([Handling(uow, incoming)])


async def on_partners_matched_batch(batch: Sequence[Handling]) -> None:
    """The "matches" emails of a consumer batch, addressed and queued together."""
    notices = []
    for uow, incoming in batch:
        matched = incoming.require(PartnersMatched)
        template = EmailTemplate.MATCHES
        if not matched.options:
            log.info("no_partner_options", member_id=matched.member_id, reason=matched.reason)
            if matched.reason not in (None, "assessment"):  # None: producers that predate the field
                continue  # a re-match that found nothing new: the member already heard about this response
            # Once per response (matchmaking matches an assessment once): nothing fits yet, a person follows up.
            template = EmailTemplate.ANSWERS_RECEIVED
        notice = Notice(
            template=template,
            audience=Audience(AudienceKind.MEMBER, matched.member_id),
            data=matched,
            cause_event_id=incoming.envelope.id,
            correlation_id=_correlation(incoming),
            cluster_id=matched.cluster_id,
            member_id=matched.member_id,
        )
        notices.append((uow, notice))
    await deliver_or_park_many(notices)


def is_escalation(review: ReviewDue) -> bool:
    """An overdue review escalates to the board, whichever way the producer says so."""
    return (
        review.escalation or review.kind is ReminderKind.OVERDUE or review.recipients_role is ContactRole.BOARD_MEMBER
    )


async def on_review_due(uow: UnitOfWork, incoming: Incoming) -> None:
    """A review reminder to the cluster managers (and the strategy's owners); an overdue review escalates to
    the board members as well."""
    review = incoming.require(ReviewDue)
    escalate = is_escalation(review)
    await deliver_or_park(
        uow,
        Notice(
            template=EmailTemplate.REVIEW_ESCALATION if escalate else EmailTemplate.REVIEW_REMINDER,
            audience=Audience(AudienceKind.BOARD if escalate else AudienceKind.CLUSTER, review.cluster_id),
            data=review,
            cause_event_id=incoming.envelope.id,
            correlation_id=_correlation(incoming),
            cluster_id=review.cluster_id,
            member_id=None,
            also=named_contacts(review),
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
