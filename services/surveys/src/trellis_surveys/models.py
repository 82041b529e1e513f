"""The surveys service's tables: the cluster directory, templates, campaigns, invitations and responses."""

from __future__ import annotations

from sqlalchemy import JSON, Column, ForeignKey, Integer, String, Table, UniqueConstraint

from trellis_common.db import UTCDateTime, new_metadata

metadata = new_metadata()

clusters = Table(
    "clusters",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("country", String(2), nullable=True),
    Column("timezone", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

members = Table(
    "members",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("cluster_id", String(64), ForeignKey("clusters.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("member_type", String(32), nullable=False),
    Column("country", String(2), nullable=True),
    Column("region", String(64), nullable=True),
    Column("size_class", String(16), nullable=True),
    Column("sector", String(16), nullable=True),
    Column("languages", JSON, nullable=False),
    # The member card (guide, Figure 7): the member's role towards the cluster and what it needs.
    Column("member_role", String(32), nullable=True),
    Column("jobs_to_be_done", JSON, nullable=True),
    Column("pain_points", JSON, nullable=True),
    Column("ambitions", JSON, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

contacts = Table(
    "contacts",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("member_id", String(64), ForeignKey("members.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("email", String(320), nullable=False),
    Column("language", String(8), nullable=False),
    Column("role", String(32), nullable=False),
)

responses = Table(
    "responses",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("cluster_id", String(64), nullable=False, index=True),
    Column("member_id", String(64), ForeignKey("members.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("template_id", String(64), nullable=False),
    Column("template_version", Integer, nullable=False),
    Column("theme", String(32), nullable=False),
    Column("skills", JSON, nullable=False),
    Column("answers", JSON, nullable=False),
    Column("completed_at", UTCDateTime, nullable=False),
    Column("campaign_id", String(64), nullable=True, index=True),
    Column("invitation_id", String(64), nullable=True),
    Column("answers_digest", String(64), nullable=True),
    Column("event_id", String(64), nullable=True),
    # One response per member per campaign; responses outside campaigns (API, other tools) have no campaign.
    UniqueConstraint("campaign_id", "member_id"),
)

# A cluster's own templates (copied and adapted from a built-in one); built-in templates ship as package data.
survey_templates = Table(
    "survey_templates",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("cluster_id", String(64), ForeignKey("clusters.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("status", String(16), nullable=False),
    Column("definition", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("published_at", UTCDateTime, nullable=True),
)

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("cluster_id", String(64), ForeignKey("clusters.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("title", String(200), nullable=False),
    Column("template_id", String(64), nullable=False),
    Column("template_version", Integer, nullable=False),
    Column("theme", String(32), nullable=False),
    Column("launched_at", UTCDateTime, nullable=False),
    Column("closes_at", UTCDateTime, nullable=False),
    Column("reminder_after_s", Integer, nullable=False),
    Column("max_reminders", Integer, nullable=False),
)

invitations = Table(
    "invitations",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("campaign_id", String(64), ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("cluster_id", String(64), nullable=False),
    Column("member_id", String(64), nullable=False, index=True),
    Column("contact_id", String(64), nullable=False),
    Column("language", String(8), nullable=False),
    Column("invited_at", UTCDateTime, nullable=False),
    Column("opened_at", UTCDateTime, nullable=True),
    Column("started_at", UTCDateTime, nullable=True),
    Column("completed_at", UTCDateTime, nullable=True),
    Column("reminders_sent", Integer, nullable=False),
    Column("next_reminder_at", UTCDateTime, nullable=True, index=True),
    Column("draft", JSON, nullable=True),
    Column("draft_saved_at", UTCDateTime, nullable=True),
    UniqueConstraint("campaign_id", "contact_id"),
)
