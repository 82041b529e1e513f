"""The skills service's tables: assessments and each member's latest per-skill severity (for trends)."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Float, String, Table

from trellis_common.db import UTCDateTime, new_metadata

metadata = new_metadata()

assessments = Table(
    "assessments",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("response_id", String(128), nullable=False, unique=True),
    Column("cluster_id", String(128), nullable=False, index=True),
    Column("member_id", String(128), nullable=False, index=True),
    Column("theme", String(32), nullable=False),
    Column("member_context", JSON, nullable=False),
    Column("gaps", JSON, nullable=False),
    Column("assessed_at", UTCDateTime, nullable=False),
)

member_skill_severity = Table(
    "member_skill_severity",
    metadata,
    Column("member_id", String(128), primary_key=True),
    Column("skill_code", String(64), primary_key=True),
    Column("severity", Float, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
