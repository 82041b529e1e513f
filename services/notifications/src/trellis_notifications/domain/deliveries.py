"""What a delivery is: its status, template, identity, audience, the notice it comes from and its retry schedule
(no I/O)."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from trellis_common.events import EventData, ReviewDue

DELIVERIES_DUE = "deliveries"  # the wake-up signal of the email sender: a transaction queued emails to send


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # due at next_attempt_at
    SENDING = "sending"  # claimed by a sender; unconfirmed after the lease means the sender crashed
    SENT = "sent"  # accepted by the SMTP relay
    FAILED = "failed"  # rejected permanently, or given up after max_attempts
    PARKED = "parked"  # the event came before its recipients were known; waits for surveys.member.changed
    CANCELLED = "cancelled"  # never to be sent, e.g. the recipient's personal data was erased
    SKIPPED = "skipped"  # not sent by rule: the contact unsubscribed, or the address is suppressed


# Not sent yet and still meant to be: what unsubscribing, a hard bounce or an erasure stops.
OPEN_STATUSES = (DeliveryStatus.PENDING.value, DeliveryStatus.SENDING.value)


class EmailTemplate(StrEnum):
    MATCHES = "matches"
    MATCHES_DIGEST = "matches_digest"  # a week of matches in one email
    ANSWERS_RECEIVED = "answers_received"  # an assessment no offer fits yet: the member hears it was received
    REVIEW_REMINDER = "review_reminder"  # ahead of and on the due date, with an .ics attachment
    REVIEW_ESCALATION = "review_escalation"  # the review is overdue: the board is told as well
    SURVEY_INVITATION = "survey_invitation"
    SURVEY_REMINDER = "survey_reminder"


# Fixed forever: delivery ids derived from it must stay the same across releases.
_DELIVERY_NAMESPACE = uuid.UUID("9d3c1f0e-5b7a-4c36-8f0e-2a6d4b1c7e55")


def _identity(cause_event_id: str, contact_id: str, template: str) -> str:
    return f"{cause_event_id}|{contact_id}|{template}"


def delivery_id_for(cause_event_id: str, contact_id: str, template: str) -> str:
    """The same (event, recipient, template) always gets the same delivery id."""
    return str(uuid.uuid5(_DELIVERY_NAMESPACE, _identity(cause_event_id, contact_id, template)))


def message_id_for(cause_event_id: str, contact_id: str, template: str, domain: str) -> str:
    """Deterministic Message-ID: a resend after a crash carries the same id, so it can be recognised."""
    digest = hashlib.sha256(_identity(cause_event_id, contact_id, template).encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def retry_delay(attempts: int, base_s: float, max_s: float) -> timedelta:
    """Capped exponential backoff after ``attempts`` failed attempts: base, 2·base, 4·base, … up to max."""
    if attempts < 1:
        raise ValueError("a retry follows at least one attempt")
    exponent = min(attempts - 1, 60)  # 2**60 · base is past any sensible cap; avoids float overflow
    return timedelta(seconds=min(max_s, base_s * float(2**exponent)))


class AudienceKind(StrEnum):
    MEMBER = "member"  # every contact of a member organisation
    CLUSTER = "cluster"  # the cluster managers of a cluster
    BOARD = "board"  # the cluster managers and board members of a cluster (escalations)
    CONTACT = "contact"  # one named contact


@dataclass(frozen=True)
class Audience:
    """Who an event's email goes to, before the contact directory can say who they are.

    A parked delivery stores ``placeholder`` in its contact_id column, so the (event, recipient, template)
    uniqueness also makes parking idempotent.
    """

    kind: AudienceKind
    ident: str

    @property
    def placeholder(self) -> str:
        return f"{self.kind.value}:{self.ident}"

    @classmethod
    def parse(cls, placeholder: str) -> Audience:
        kind, sep, ident = placeholder.partition(":")
        if not sep or not ident:
            raise ValueError(f"not an audience placeholder: {placeholder!r}")
        return cls(AudienceKind(kind), ident)


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
