"""The surveys service's tables: the cluster directory and completed responses."""

from __future__ import annotations

from sqlalchemy import JSON, Column, ForeignKey, Integer, String, Table

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
)
