"""The matchmaking service's tables: the partner registry, members' needs, seat reservations and match runs."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Float, ForeignKey, Index, Integer, String, Table, Text, text

from trellis_common.db import UTCDateTime, new_metadata

metadata = new_metadata()
EMPTY_LIST = text("'[]'")

partners = Table(
    "partners",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("partner_type", String(40), nullable=False),
    Column("country", String(2), nullable=True),
    Column("website", String(300), nullable=True),
    # An organisation's contact point (a desk address or a form), not a person: personal data stays in surveys.
    Column("contact", String(300), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=True),
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
    Column("regions", JSON, nullable=False, server_default=EMPTY_LIST),
    Column("languages", JSON, nullable=False),
    Column("sectors", JSON, nullable=False, server_default=EMPTY_LIST),
    Column("target_markets", JSON, nullable=False, server_default=EMPTY_LIST),
    Column("seats", Integer, nullable=False),
    Column("cost_eur", Integer, nullable=True),
    Column("funding", JSON, nullable=False, server_default=EMPTY_LIST),
    Column("contact", String(300), nullable=True),
)

# Each member's latest gaps (one row per member): the demand a matching round places in seats.
member_needs = Table(
    "member_needs",
    metadata,
    Column("member_id", String(128), primary_key=True),
    Column("cluster_id", String(128), nullable=False, index=True),
    Column("assessment_id", String(128), nullable=False),
    Column("period", String(16), nullable=False, index=True),
    Column("member_context", JSON, nullable=False),
    Column("gaps", JSON, nullable=False),
    Column("assessed_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# One row per seat given to a gap: proposed (reserved), then accepted / declined / completed, or released.
matches = Table(
    "matches",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("period", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("cluster_id", String(128), nullable=False, index=True),
    Column("member_id", String(128), nullable=False, index=True),
    Column("assessment_id", String(128), nullable=False),
    Column("skill_code", String(64), nullable=False),
    Column("priority", Float, nullable=False),
    Column("offer_id", String(64), nullable=False, index=True),
    Column("partner_id", String(64), nullable=False),
    # Copies, so a match still reads well after its partner or offer is gone.
    Column("partner_name", String(200), nullable=False),
    Column("partner_type", String(40), nullable=False),
    Column("offer_title", String(200), nullable=False),
    Column("format", String(32), nullable=False),
    Column("delivery", String(16), nullable=False),
    Column("score", Float, nullable=False),
    Column("explanation", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("outcome_at", UTCDateTime, nullable=True),
    Column("outcome_by", String(32), nullable=True),
    Column("outcome_note", Text, nullable=True),
    Index("ix_matches_period_status", "period", "status"),
)

match_runs = Table(
    "match_runs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("assessment_id", String(128), nullable=False, index=True),
    Column("cluster_id", String(128), nullable=False, index=True),
    Column("member_id", String(128), nullable=False, index=True),
    Column("options", JSON, nullable=False),
    Column("pooled", JSON, nullable=False),
    Column("matched_at", UTCDateTime, nullable=False),
    Column("period", String(16), nullable=True),
    Column("reason", String(16), nullable=True),  # NULL on runs from before re-matching: an assessment
)

# One row per seat period, locked while a matching round runs so replicas never hand out a seat twice.
match_periods = Table(
    "match_periods",
    metadata,
    Column("period", String(16), primary_key=True),
    Column("rounds", Integer, nullable=False),
    Column("solved_at", UTCDateTime, nullable=True),
)
