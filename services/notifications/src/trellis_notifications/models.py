"""The notifications service's tables: the contact directory projection and the delivery log."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Index, Integer, String, Table, Text, UniqueConstraint, text

from trellis_common.db import UTCDateTime, new_metadata

metadata = new_metadata()

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
    UniqueConstraint("cause_event_id", "contact_id", "template"),
    Index("ix_deliveries_due", "status", "next_attempt_at"),
    Index("ix_deliveries_parked", "status", "contact_id"),
    Index("ix_deliveries_created", "created_at"),
)
