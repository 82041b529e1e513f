"""The notifications service: tells people, by email, what the rest of Trellis found for them."""

from __future__ import annotations

from trellis_common.runtime import ServiceDefinition
from trellis_notifications.api.deliveries import router
from trellis_notifications.api.privacy import router as privacy_router
from trellis_notifications.api.unsubscribe import router as unsubscribe_router
from trellis_notifications.handlers import (
    on_invitation_requested,
    on_member_changed,
    on_partners_matched_batch,
    on_review_due,
)
from trellis_notifications.models import metadata
from trellis_notifications.settings import NotificationsSettings
from trellis_notifications.workers.digests import send_digests
from trellis_notifications.workers.sender import send_emails

DEFINITION = ServiceDefinition(
    name="notifications",
    title="Trellis notifications",
    description="Contact directory projection (from surveys.member.changed) and crash-safe email deliveries: "
    "survey invitations and reminders, partner proposals (one by one or as a weekly digest), strategy review "
    "reminders (with an .ics) and overdue escalations, in the contact's language. Preferences per category, "
    "RFC 8058 one-click unsubscribe, a suppression list for hard bounces, template previews. Consumes "
    "surveys.member.changed, surveys.invitation.requested, matchmaking.partners.matched and strategy.review.due; "
    "publishes notifications.email.delivered and notifications.email.failed.",
    metadata=metadata,
    migrations="trellis_notifications:migrations",
    routers=[router, privacy_router, unsubscribe_router],
    consumes=[on_member_changed, on_review_due, on_invitation_requested, on_partners_matched_batch],
    workers=[send_emails, send_digests],
    settings_class=NotificationsSettings,
)
