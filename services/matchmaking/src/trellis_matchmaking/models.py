"""The matchmaking service's tables: partners, their offers, match runs and the cluster's pooled demand."""

from __future__ import annotations

from sqlalchemy import JSON, Column, ForeignKey, Integer, String, Table

from trellis_common.db import UTCDateTime, new_metadata

metadata = new_metadata()

partners = Table(
    "partners",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("partner_type", String(40), nullable=False),
    Column("country", String(2), nullable=True),
    Column("website", String(300), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
)

offers = Table(
    "offers",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("partner_id", String(64), ForeignKey("partners.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("title", String(200), nullable=False),
    Column("skill_codes", JSON, nullable=False),
    Column("max_level", Integer, nullable=False),
    Column("format", String(32), nullable=False),
    Column("delivery", String(16), nullable=False),
    Column("countries", JSON, nullable=False),
    Column("languages", JSON, nullable=False),
    Column("seats", Integer, nullable=False),
    Column("seats_taken", Integer, nullable=False),
    Column("cost_eur", Integer, nullable=True),
)

match_runs = Table(
    "match_runs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("assessment_id", String(128), nullable=False, unique=True),
    Column("cluster_id", String(128), nullable=False, index=True),
    Column("member_id", String(128), nullable=False, index=True),
    Column("options", JSON, nullable=False),
    Column("pooled", JSON, nullable=False),
    Column("matched_at", UTCDateTime, nullable=False),
)

cluster_demand = Table(
    "cluster_demand",
    metadata,
    Column("cluster_id", String(128), primary_key=True),
    Column("skill_code", String(64), primary_key=True),
    Column("member_id", String(128), primary_key=True),
    Column("updated_at", UTCDateTime, nullable=False),
)
