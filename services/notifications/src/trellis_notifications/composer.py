"""Turns "this email, to this person" into the columns of a delivery row: rendered subject and parts,
Message-ID, one-click unsubscribe URL and attachments. Everything is fixed when the row is written, so a
resend after a crash is the same message, byte for byte."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from trellis_common.events import EventData, ReviewDue
from trellis_common.tokens import TokenSigner
from trellis_notifications.domain.deliveries import EmailTemplate, message_id_for
from trellis_notifications.domain.digest import MatchesDigest
from trellis_notifications.domain.ical import ICS_CONTENT_TYPE, ICS_FILENAME, review_calendar
from trellis_notifications.domain.message import Attachment, single_line
from trellis_notifications.domain.preferences import TEMPLATE_CATEGORY, Category
from trellis_notifications.domain.rendering import default_renderer
from trellis_notifications.settings import NotificationsSettings

UNSUBSCRIBE_PURPOSE = "notifications.unsubscribe.v1"

# The name each template knows its data by.
CONTEXT_NAMES: dict[EmailTemplate, str] = {
    EmailTemplate.MATCHES: "matched",
    EmailTemplate.MATCHES_DIGEST: "digest",
    EmailTemplate.ANSWERS_RECEIVED: "matched",
    EmailTemplate.REVIEW_REMINDER: "review",
    EmailTemplate.REVIEW_ESCALATION: "review",
    EmailTemplate.SURVEY_INVITATION: "invitation",
    EmailTemplate.SURVEY_REMINDER: "invitation",
}


@dataclass(frozen=True)
class Recipient:
    """Who an email goes to: a contact of the directory, or the person a manager redirected reviews to."""

    contact_id: str  # whose email it is (for a redirect: the manager's)
    member_id: str
    cluster_id: str
    name: str
    email: str
    language: str
    on_behalf_of: str | None = None  # the manager's name, when a redirect brought the email here


def unsubscribe_signer(settings: NotificationsSettings) -> TokenSigner:
    return _signer(settings.signing_secret)


@functools.lru_cache(maxsize=4)
def _signer(secret: str) -> TokenSigner:
    """One signer per secret, not one built for every email."""
    return TokenSigner(secret, UNSUBSCRIBE_PURPOSE)


def unsubscribe_url(settings: NotificationsSettings, contact_id: str, category: Category, now: datetime) -> str:
    token = unsubscribe_signer(settings).dumps({"c": contact_id, "k": category.value}, now)
    return f"{settings.public_base_url}/unsubscribe/{token}"


def review_attachment(review: ReviewDue, language: str, settings: NotificationsSettings) -> Attachment:
    summary, description = default_renderer().calendar_texts(language, review=review)
    content = review_calendar(review, summary=summary, description=description, domain=settings.mail_domain)
    maintype, _, subtype = ICS_CONTENT_TYPE.partition("/")
    return Attachment(ICS_FILENAME, maintype, subtype, content, (("method", "PUBLISH"), ("charset", "utf-8")))


def compose(
    settings: NotificationsSettings,
    template: EmailTemplate,
    recipient: Recipient,
    data: EventData | MatchesDigest,
    *,
    cause_event_id: str,
    now: datetime,
    cluster_name: str | None = None,
    member_name: str | None = None,
) -> dict[str, Any]:
    """The content columns of a pending delivery of ``template`` to ``recipient``.

    ``cluster_name`` brands the email (header, footer, the sender's display name) and ``member_name`` names the
    recipient's organisation; either may be unknown yet, and the email then words it neutrally.
    """
    category = TEMPLATE_CATEGORY[template]
    url = unsubscribe_url(settings, recipient.contact_id, category, now) if category is not None else None
    rendered = default_renderer().render(
        template,
        recipient.language,
        recipient_name=recipient.name,
        unsubscribe_url=url,
        on_behalf_of=recipient.on_behalf_of,
        cluster_name=cluster_name,
        member_name=member_name,
        **{CONTEXT_NAMES[template]: data},
    )
    attachments: list[Attachment] = []
    if template is EmailTemplate.REVIEW_REMINDER and isinstance(data, ReviewDue):
        attachments.append(review_attachment(data, recipient.language, settings))
    return {
        "to_address": recipient.email,
        "to_name": recipient.name,
        "from_name": single_line(cluster_name)[:200] if cluster_name else None,
        "subject": rendered.subject,
        "text_body": rendered.text,
        "html_body": rendered.html,
        "unsubscribe_url": url,
        "attachments": [a.to_json() for a in attachments] or None,
        "message_id": message_id_for(cause_event_id, recipient.contact_id, template.value, settings.mail_domain),
    }
