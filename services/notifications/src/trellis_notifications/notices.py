"""From the notice an event calls for to delivery rows: addressed to the contacts of the directory, routed by
each one's choices, or parked until they are known.

What each contact has chosen decides per recipient: send, collect for the weekly digest, or skip
(unsubscribed, or the address bounced hard); skipped emails are kept in the delivery log with the reason.
Events from different topics arrive in no particular order, so a notice whose recipients are not in the
directory yet is *parked* and released by the surveys.member.changed that brings them. Everything here runs in
the handler's transaction: the rows are rendered now and the sender worker sends them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from trellis_common.auth import Scope
from trellis_common.events import EventData, InvitationRequested, PartnersMatched, ReviewDue
from trellis_common.logging import get_logger
from trellis_common.repositories.names import names_of
from trellis_common.settings import narrowed
from trellis_common.unit_of_work import UnitOfWork
from trellis_notifications.composer import Recipient, compose
from trellis_notifications.domain.deliveries import (
    DELIVERIES_DUE,
    Audience,
    AudienceKind,
    DeliveryStatus,
    EmailTemplate,
    Notice,
    delivery_id_for,
    named_contacts,
)
from trellis_notifications.domain.preferences import DEFAULT_PREFERENCES, REDIRECTABLE, Route, address_key, decide
from trellis_notifications.models import NAMES
from trellis_notifications.repositories.contacts import recipients_of, recipients_of_members
from trellis_notifications.repositories.deliveries import add_deliveries, fail_parked, park, parked_for, unpark
from trellis_notifications.repositories.digests import add_digest_items
from trellis_notifications.repositories.preferences import apply_redirects, load_preferences
from trellis_notifications.repositories.suppressions import suppressed_keys
from trellis_notifications.settings import NotificationsSettings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

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
# Fixed forever: digest item ids derived from it must stay the same across releases.
_DIGEST_ITEM_NAMESPACE = uuid.UUID("5f0b8d1e-2c4a-4e7b-9a61-3d8f2b7c0e14")


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
            await park(session, notice, uow.now)
            log.info("email_parked", template=notice.template.value, audience=notice.audience.kind.value)
    await queue_many(addressed)
    return [len(recipients) for recipients in found]


async def _recipients_of_many(session: AsyncSession, notices: Sequence[Notice]) -> list[list[Recipient]]:
    """``recipients_of`` per notice; the members' own emails (the common case) in one query."""
    plain = [
        n.audience.ident for n in notices if n.audience.kind is AudienceKind.MEMBER and not n.also and n.cluster_id
    ]
    by_member = await recipients_of_members(session, plain) if plain else {}
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
        await add_deliveries(session, rows)
    if waiting:
        await add_digest_items(session, waiting)
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


async def release_parked(uow: UnitOfWork, placeholders: Sequence[str]) -> int:
    """Turn parked notices whose recipients are now known into deliveries (in the caller's transaction)."""
    session = uow.session
    released = 0
    for row in await parked_for(session, placeholders):
        template = EmailTemplate(row["template"])
        try:
            data = _PAYLOAD_MODELS[template].model_validate(row["payload"])
        except (ValidationError, KeyError) as exc:
            # A parked row we cannot read must not dead-letter the directory update that released it.
            await fail_parked(session, row["id"], f"parked payload unreadable: {exc}"[:2000])
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
        await unpark(session, row["id"])
        released += 1
        log.info("parked_email_released", template=template.value, recipients=len(recipients))
    return released
