"""The skills service's tables.

- ``assessments``: one per completed survey response, with the gaps published in ``skills.gaps.assessed``.
- ``cluster_members`` and ``member_skill_profiles``: each member's latest context and latest answer per skill
  (demand and supply), the input of the cluster's skills profile and of the trend of the next assessment.
- ``supply_reports`` and ``supply_figures``: supply figures other systems report (every report as received,
  and the figure in force per source, scope and skill).
- ``member_names`` and ``cluster_names``: organisations' names from ``surveys.member.changed``, so the heatmap
  shows names, not ids (``trellis_common.names``).
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, Date, Float, Integer, String, Table

from trellis_common.db import UTCDateTime, new_metadata
from trellis_common.parking import Parking
from trellis_common.repositories.names import name_tables
from trellis_common.repositories.parked_events import parked_events_table

metadata = new_metadata()
NAMES = name_tables(metadata)
PARKING = Parking("skills", NAMES, parked_events_table(metadata))

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

cluster_members = Table(
    "cluster_members",
    metadata,
    Column("cluster_id", String(128), primary_key=True),
    Column("member_id", String(128), primary_key=True),
    Column("country", String(2), nullable=True),
    Column("region", String(64), nullable=True),
    Column("size_class", String(16), nullable=True),
    Column("sector", String(16), nullable=True),
    Column("member_type", String(32), nullable=False),
    # completed_at of the response the context comes from: an older response never overwrites a newer one.
    Column("answered_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

member_skill_profiles = Table(
    "member_skill_profiles",
    metadata,
    Column("cluster_id", String(128), primary_key=True),
    Column("member_id", String(128), primary_key=True),
    Column("skill_code", String(64), primary_key=True),
    Column("current_level", Integer, nullable=False),
    Column("required_level", Integer, nullable=False),
    Column("headcount_having", Integer, nullable=False),
    Column("headcount_needed", Integer, nullable=False),
    # What the member needed at its previous answer for the skill (none before a second answer): a falling need
    # is the evidence of obsolescence.
    Column("previous_headcount_needed", Integer, nullable=True),
    Column("importance", Integer, nullable=False),
    # level_gap + 0.5 × headcount_gap of this answer: the trend of the next assessment compares against it.
    Column("severity", Float, nullable=False),
    Column("response_id", String(128), nullable=False),
    Column("answered_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

supply_reports = Table(
    "supply_reports",
    metadata,
    Column("report_id", String(128), primary_key=True),
    Column("source", String(200), nullable=False),
    Column("scope", String(16), nullable=False),
    Column("scope_id", String(128), nullable=False),
    Column("as_of", Date, nullable=False),
    Column("figures", JSON, nullable=False),
    # Hash of what the report says: the same id with other figures is refused rather than silently ignored.
    Column("fingerprint", String(64), nullable=False),
    Column("received_via", String(16), nullable=False),
    Column("reported_at", UTCDateTime, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
)

supply_figures = Table(
    "supply_figures",
    metadata,
    Column("scope", String(16), primary_key=True),
    # The cluster id, or the region upper-cased (members' regions are matched the same way).
    Column("scope_key", String(128), primary_key=True),
    Column("source", String(200), primary_key=True),
    Column("skill_code", String(64), primary_key=True),
    Column("headcount", Integer, nullable=False),
    Column("level", Integer, nullable=True),
    Column("as_of", Date, nullable=False),
    Column("reported_at", UTCDateTime, nullable=False),
    Column("report_id", String(128), nullable=False),
)
