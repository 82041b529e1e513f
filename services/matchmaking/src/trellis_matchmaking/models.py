"""The matchmaking service's tables: the partner registry, members' needs, seat reservations and match runs, and
organisations' names by id (``member_names``, ``cluster_names``) so what people read names members, not ids."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Float, ForeignKey, Index, Integer, String, Table, Text, false, text

from trellis_common.db import UTCDateTime, new_metadata
from trellis_common.parking import Parking
from trellis_common.repositories.names import name_tables
from trellis_common.repositories.parked_events import parked_events_table

metadata = new_metadata()
NAMES = name_tables(metadata)
PARKING = Parking("matchmaking", NAMES, parked_events_table(metadata))
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
    # The cluster whose partner it is (its managers edit it, its members get its seats first); NULL: shared
    # platform-wide by a platform admin.
    Column("owner_cluster_id", String(128), nullable=True, index=True),
    # A cluster's partner: whether other clusters' members may take the seats its own members leave.
    Column("open_to_other_clusters", Boolean, nullable=False, server_default=false()),
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

# Which offers cover a skill: matching looks offers up by the skills of the gaps it places, never scans them.
offer_skills = Table(
    "offer_skills",
    metadata,
    Column("offer_id", String(64), ForeignKey("offers.id", ondelete="CASCADE"), primary_key=True),
    Column("skill_code", String(64), primary_key=True),
    Index("ix_offer_skills_skill_code", "skill_code", "offer_id"),
)

# Each member's latest assessment (one row per member); its gaps are the rows of member_gaps.
member_needs = Table(
    "member_needs",
    metadata,
    Column("member_id", String(128), primary_key=True),
    Column("cluster_id", String(128), nullable=False, index=True),
    Column("assessment_id", String(128), nullable=False),
    Column("period", String(16), nullable=False, index=True),
    Column("member_context", JSON, nullable=False),
    Column("assessed_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# The demand matching places: one row per (member, skill) gap of the member's latest assessment, with the
# match holding its seat (NULL while it waits for one) and since when it waits (its arrival, or the moment its
# proposal lapsed or was declined). Waiting gaps are read most severe first when seats free up, which is what
# the partial index serves.
member_gaps = Table(
    "member_gaps",
    metadata,
    Column("member_id", String(128), primary_key=True),
    Column("skill_code", String(64), primary_key=True),
    Column("cluster_id", String(128), nullable=False),
    Column("period", String(16), nullable=False),
    Column("priority", Float, nullable=False),
    Column("gap", JSON, nullable=False),
    Column("match_id", String(64), nullable=True),
    Column("waiting_since", UTCDateTime, nullable=False),
    Index(
        "ix_member_gaps_waiting",
        "period",
        "skill_code",
        "priority",
        "member_id",
        postgresql_where=text("match_id IS NULL"),
        sqlite_where=text("match_id IS NULL"),
    ),
    Index("ix_member_gaps_sharing", "cluster_id", "period", "skill_code"),
)

# One row per seat given to a gap: proposed (reserved), then accepted / declined / completed, or released.
matches = Table(
    "matches",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("period", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("cluster_id", String(128), nullable=False),
    Column("member_id", String(128), nullable=False, index=True),
    Column("assessment_id", String(128), nullable=False),
    Column("skill_code", String(64), nullable=False),
    Column("priority", Float, nullable=False),
    Column("offer_id", String(64), nullable=False),
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
    # No index on (period, status) alone (migration 0010): before the statistics know a new period's matches it
    # drew the planner into reading all of them for a few offers' seats or a few members' matches.
    Index("ix_matches_offer_period_status", "offer_id", "period", "status"),
    # A cluster's matches of a period, newest first, counted and paged from the index alone (the console's
    # matches page at tens of thousands of matches); with and without a status chosen.
    Index("ix_matches_cluster_period_created", "cluster_id", "period", "created_at", "id"),
    Index("ix_matches_cluster_period_status_created", "cluster_id", "period", "status", "created_at", "id"),
)

# Seats held per offer and period (proposed, accepted and completed matches), kept by triggers on ``matches`` that
# migration 0011 creates: every write to a match, whatever code makes it, counts in the same transaction. A
# round reads its offers' seats here, one row per offer, instead of counting their matches: that read every seat
# held in the offers a batch could use (20,000 rows at 100,000 members), more as the platform grows.
offer_seats = Table(
    "offer_seats",
    metadata,
    Column("offer_id", String(64), primary_key=True),
    Column("period", String(16), primary_key=True),
    Column("held", Integer, nullable=False),
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
