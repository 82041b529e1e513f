"""What a contact has chosen to receive, and the rule that decides each email's fate (no I/O).

Every email belongs to one category a contact can unsubscribe from, except strategy review emails: cluster
managers and board members cannot switch those off (a review nobody is told about does not happen), but
they can send them to someone else (``ReviewRedirect``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum

from trellis_notifications.domain.deliveries import EmailTemplate


class Category(StrEnum):
    INVITATIONS = "invitations"  # survey invitations
    MATCHES = "matches"  # collaboration partner proposals, one email per match run
    REMINDERS = "reminders"  # survey reminders
    DIGESTS = "digests"  # the weekly digest of matches


class MatchDelivery(StrEnum):
    EACH = "each"  # one email per match run (the default)
    WEEKLY_DIGEST = "weekly_digest"  # matches are collected and sent once a week


# None: a service email for a role (strategy reviews), not unsubscribable.
TEMPLATE_CATEGORY: dict[EmailTemplate, Category | None] = {
    EmailTemplate.SURVEY_INVITATION: Category.INVITATIONS,
    EmailTemplate.SURVEY_REMINDER: Category.REMINDERS,
    EmailTemplate.MATCHES: Category.MATCHES,
    EmailTemplate.MATCHES_DIGEST: Category.DIGESTS,
    EmailTemplate.ANSWERS_RECEIVED: Category.MATCHES,  # the other answer to an assessment: no proposal yet
    EmailTemplate.REVIEW_REMINDER: None,
    EmailTemplate.REVIEW_ESCALATION: None,
}
REDIRECTABLE = frozenset({EmailTemplate.REVIEW_REMINDER, EmailTemplate.REVIEW_ESCALATION})


def templates_of(category: Category) -> list[EmailTemplate]:
    return [template for template, cat in TEMPLATE_CATEGORY.items() if cat is category]


@dataclass(frozen=True)
class ReviewRedirect:
    """Strategy review emails for a manager go to another contact, or to a plain address."""

    contact_id: str | None = None
    email: str | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        if (self.contact_id is None) == (self.email is None):
            raise ValueError("a redirect names either a contact or an email address")


@dataclass(frozen=True)
class Preferences:
    unsubscribed: frozenset[Category] = field(default_factory=frozenset)
    match_delivery: MatchDelivery = MatchDelivery.EACH
    review_redirect: ReviewRedirect | None = None

    def receives(self, category: Category) -> bool:
        return category not in self.unsubscribed


DEFAULT_PREFERENCES = Preferences()


class Route(StrEnum):
    SEND = "send"
    DIGEST = "digest"  # collect for the contact's weekly digest
    SKIP = "skip"


@dataclass(frozen=True)
class Decision:
    route: Route
    reason: str = ""


def decide(template: EmailTemplate, preferences: Preferences, *, suppressed: bool) -> Decision:
    """Send, collect for the digest, or skip (with the reason the delivery log shows).

    A suppressed address gets nothing, whatever the template: it bounced hard, so the mailbox does not exist.
    """
    if suppressed:
        return Decision(Route.SKIP, "address suppressed after a hard bounce")
    category = TEMPLATE_CATEGORY[template]
    if category is None:
        return Decision(Route.SEND)
    if not preferences.receives(category):
        return Decision(Route.SKIP, f"unsubscribed from {category.value}")
    if template is EmailTemplate.MATCHES and preferences.match_delivery is MatchDelivery.WEEKLY_DIGEST:
        if not preferences.receives(Category.DIGESTS):
            return Decision(Route.SKIP, "unsubscribed from digests")
        return Decision(Route.DIGEST)
    return Decision(Route.SEND)


def address_key(address: str) -> str:
    """What the suppression list stores instead of the address: it outlives erasure, personal data must not."""
    return hashlib.sha256(address.strip().lower().encode()).hexdigest()
