"""notifications consumes the contact directory, partner matches, review reminders and survey invitations.

Handlers never talk to SMTP: each turns its event into the notice of an email, which ``notices`` addresses
and queues (or parks until its recipients are known) in the same transaction as the inbox row; the sender
worker sends the rows. surveys.member.changed keeps the contact directory in step and releases the notices
parked for the contacts it brings; its tombstone erases the member's personal data (``privacy``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from trellis_common.consumer import Handling, Incoming
from trellis_common.envelope import CloudEvent
from trellis_common.errors import ContractError, PermanentError
from trellis_common.events import (
    ContactRole,
    InvitationRequested,
    MemberChanged,
    PartnersMatched,
    ReminderKind,
    ReviewDue,
)
from trellis_common.logging import get_logger
from trellis_common.repositories.names import record_member
from trellis_common.subscriptions import Received, handles, handles_batch, handles_records
from trellis_common.unit_of_work import UnitOfWork
from trellis_notifications.domain.deliveries import Audience, AudienceKind, EmailTemplate, Notice, named_contacts
from trellis_notifications.domain.rendering import is_web_link
from trellis_notifications.models import NAMES
from trellis_notifications.notices import deliver_or_park, deliver_or_park_many, release_parked
from trellis_notifications.privacy import erase_contacts, erase_member
from trellis_notifications.repositories.contacts import contact_ids_of, last_change_of, replace_contacts

log = get_logger(__name__)


def _correlation(envelope: CloudEvent) -> str:
    return envelope.correlationid or envelope.id


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@handles_records(MemberChanged)  # a tombstone (no data) is a member deleted
async def on_member_changed(uow: UnitOfWork, incoming: Incoming) -> None:
    """Keep the contact directory in step with surveys; a tombstone erases the member's personal data."""
    if incoming.data is None:
        member_id = incoming.key or incoming.envelope.subject
        if not member_id:
            raise ContractError("a member tombstone must name the member in its key or subject")
        await erase_member(uow.session, member_id)
        return
    changed = incoming.require(MemberChanged)
    session = uow.session
    await record_member(session, NAMES, changed)  # keeps the newer state by itself
    changed_at = _aware(changed.changed_at)
    newest = await last_change_of(session, changed.member_id)
    if newest is not None and newest > changed_at:
        # Only a replay (e.g. from the DLQ) brings an older state after a newer one; keep the newer.
        log.info("member_change_stale", member_id=changed.member_id)
        return
    contact_ids = [c.contact_id for c in changed.contacts]
    if len(set(contact_ids)) != len(contact_ids):
        raise PermanentError(f"member {changed.member_id} lists a contact more than once")
    previous = set(await contact_ids_of(session, changed.member_id))
    # A contact no longer listed was erased or left its member: it is forgotten here too (GDPR erasure).
    await erase_contacts(session, sorted(previous - set(contact_ids)))
    await replace_contacts(session, changed, changed_at)
    waiting = [Audience(AudienceKind.MEMBER, changed.member_id).placeholder]
    waiting += [Audience(AudienceKind.CONTACT, contact_id).placeholder for contact_id in contact_ids]
    roles = {c.role for c in changed.contacts}
    if ContactRole.CLUSTER_MANAGER in roles:
        waiting.append(Audience(AudienceKind.CLUSTER, changed.cluster_id).placeholder)
    if roles & {ContactRole.CLUSTER_MANAGER, ContactRole.BOARD_MEMBER}:
        waiting.append(Audience(AudienceKind.BOARD, changed.cluster_id).placeholder)
    await release_parked(uow, waiting)


async def on_partners_matched(uow: UnitOfWork, incoming: Incoming) -> None:
    """One "matches" email to every contact of the member (or a digest item, as each contact chose)."""
    await on_partners_matched_batch([Handling(uow, incoming)])


@handles_batch(PartnersMatched)
async def on_partners_matched_batch(batch: Sequence[Received[PartnersMatched]]) -> None:
    """The "matches" emails of a consumer batch, addressed and queued together."""
    notices = []
    for received in batch:
        uow, matched = received.uow, received.event
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
            cause_event_id=received.envelope.id,
            correlation_id=_correlation(received.envelope),
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


@handles(ReviewDue)
async def on_review_due(received: Received[ReviewDue]) -> None:
    """A review reminder to the cluster managers (and the strategy's owners); an overdue review escalates to
    the board members as well."""
    uow, review = received.uow, received.event
    escalate = is_escalation(review)
    await deliver_or_park(
        uow,
        Notice(
            template=EmailTemplate.REVIEW_ESCALATION if escalate else EmailTemplate.REVIEW_REMINDER,
            audience=Audience(AudienceKind.BOARD if escalate else AudienceKind.CLUSTER, review.cluster_id),
            data=review,
            cause_event_id=received.envelope.id,
            correlation_id=_correlation(received.envelope),
            cluster_id=review.cluster_id,
            member_id=None,
            also=named_contacts(review),
        ),
    )


@handles(InvitationRequested)
async def on_invitation_requested(received: Received[InvitationRequested]) -> None:
    """One survey invitation (or the n-th reminder) to the contact named in the event."""
    uow, invitation = received.uow, received.event
    if not is_web_link(invitation.link):
        raise PermanentError(f"invitation {invitation.invitation_id}: the survey link must be an http(s) URL")
    template = EmailTemplate.SURVEY_REMINDER if invitation.reminder > 0 else EmailTemplate.SURVEY_INVITATION
    await deliver_or_park(
        uow,
        Notice(
            template=template,
            audience=Audience(AudienceKind.CONTACT, invitation.contact_id),
            data=invitation,
            cause_event_id=received.envelope.id,
            correlation_id=_correlation(received.envelope),
            cluster_id=invitation.cluster_id,
            member_id=invitation.member_id,
        ),
    )
