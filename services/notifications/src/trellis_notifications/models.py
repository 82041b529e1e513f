"""The notifications service's tables: the contact directory projection (contacts, and the names of member
organisations and clusters), people's choices, the delivery log, the suppression list and the matches waiting
for a weekly digest."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Index, Integer, String, Table, Text, UniqueConstraint, text

from trellis_common.db import UTCDateTime, new_metadata
from trellis_common.repositories.names import name_tables

metadata = new_metadata()
# Organisations' names (not personal data) from the same event: emails name the cluster and the member.
NAMES = name_tables(metadata)

# Projection of surveys.member.changed: the only personal data this service keeps besides deliveries.
contacts = Table(
    "contacts",
    metadata,
    Column("contact_id", String(128), primary_key=True),
    Column("member_id", String(128), nullable=False, index=True),
    Column("cluster_id", String(128), nullable=False),
    Column("name", String(200), nullable=False),
    Column("email", String(320), nullable=False),
    Column("language", String(8), nullable=False),
    Column("role", String(32), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_contacts_cluster_role", "cluster_id", "role"),
)

# One row per (event, recipient, template): the unique constraint makes redelivered events harmless, and the
# content is rendered when the row is written, so a resend after a crash is the same message.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("cause_event_id", String(128), nullable=False),
    Column("correlation_id", String(128), nullable=True),
    # A contact id, or an audience placeholder ("member:<id>", "cluster:<id>", "contact:<id>") while parked.
    Column("contact_id", String(160), nullable=False),
    Column("member_id", String(128), nullable=True, index=True),
    Column("cluster_id", String(128), nullable=True, index=True),
    Column("template", String(40), nullable=False),
    Column("to_address", String(320), nullable=True),
    Column("to_name", String(200), nullable=True),
    Column("from_name", String(200), nullable=True),  # the sender's display name: the cluster's name
    Column("subject", Text, nullable=True),
    Column("text_body", Text, nullable=True),
    Column("html_body", Text, nullable=True),
    Column("message_id", String(255), nullable=True),  # set when first claimed; never changes after
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("last_error", Text, nullable=True),
    Column("next_attempt_at", UTCDateTime, nullable=True),
    Column("claimed_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime, nullable=True),
    Column("payload", JSON, nullable=True),  # the cause event's data while parked
    Column("unsubscribe_url", Text, nullable=True),  # RFC 8058 one-click URL, for emails one can unsubscribe from
    Column("attachments", JSON, nullable=True),  # e.g. the review's .ics, rendered with the rest of the content
    UniqueConstraint("cause_event_id", "contact_id", "template"),
    Index("ix_deliveries_due", "status", "next_attempt_at"),
    Index("ix_deliveries_parked", "status", "contact_id"),
    Index("ix_deliveries_created", "created_at"),
)

# A contact's choices; no row means the defaults (everything on, one email per match run). Erased with the
# contact. Review redirects hold another contact's id or a plain address (personal data, erased likewise).
contact_preferences = Table(
    "contact_preferences",
    metadata,
    Column("contact_id", String(128), primary_key=True),
    Column("invitations", Boolean, nullable=False, server_default=text("true")),
    Column("matches", Boolean, nullable=False, server_default=text("true")),
    Column("reminders", Boolean, nullable=False, server_default=text("true")),
    Column("digests", Boolean, nullable=False, server_default=text("true")),
    Column("match_delivery", String(16), nullable=False, server_default=text("'each'")),
    Column("review_redirect_contact_id", String(128), nullable=True),
    Column("review_redirect_email", String(320), nullable=True),
    Column("review_redirect_name", String(200), nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Addresses that bounced hard (5xx on RCPT), kept as SHA-256 of the normalised address: the list must outlive
# the erasure of the contact (or the address would be mailed again), personal data must not.
suppressions = Table(
    "suppressions",
    metadata,
    Column("address_hash", String(64), primary_key=True),
    Column("reason", Text, nullable=False),
    Column("delivery_id", String(36), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
)

# Match runs waiting for a contact's weekly digest; ``digest_id`` is set when a digest took them.
digest_items = Table(
    "digest_items",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("contact_id", String(128), nullable=False),
    Column("member_id", String(128), nullable=False),
    Column("cluster_id", String(128), nullable=False),
    Column("cause_event_id", String(128), nullable=False),
    Column("correlation_id", String(128), nullable=True),
    Column("payload", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("digest_id", String(64), nullable=True),
    UniqueConstraint("cause_event_id", "contact_id"),
    Index("ix_digest_items_waiting", "digest_id", "contact_id"),
)
