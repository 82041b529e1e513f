"""The strategy service's tables: strategies with objectives and KPIs, review schedules and records, the agenda.

Owners are contact ids of the directory (surveys owns it; notifications keeps the projection with names and
email addresses): this service stores no personal data. Organisations' names (``member_names``,
``cluster_names``, from ``surveys.member.changed``) are kept so agendas name members, never ids. Lead-time
reminders and escalations are further rows of ``schedule_fires`` under their own keys
(``review-upcoming-14d:<id>``, ``review-overdue:<id>``) for the review date they are about, so each fires once
across replicas.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)

from trellis_common.db import BigIntId, UTCDateTime, new_metadata
from trellis_common.repositories.names import name_tables

metadata = new_metadata()
NAMES = name_tables(metadata)

strategies = Table(
    "strategies",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("cluster_id", String(128), nullable=False, index=True),
    Column("type", String(40), nullable=False),  # domain.strategy.StrategyType
    Column("phase", String(20), nullable=False),  # domain.strategy.StrategyPhase
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=True),
    # [{"contact_id": …, "role": "cluster_manager" | "board_member"}]
    Column("owners", JSON, nullable=False),
    Column("archived_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # One overall strategy per cluster: the one the cluster's default schedule belongs to.
    Index(
        "uq_strategies_overall",
        "cluster_id",
        unique=True,
        postgresql_where=text("type = 'overall'"),
        sqlite_where=text("type = 'overall'"),
    ),
)

objectives = Table(
    "objectives",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("strategy_id", String(128), ForeignKey("strategies.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("title", String(300), nullable=False),
    Column("description", Text, nullable=True),
    Column("position", Integer, nullable=False),  # the order the strategy lists them in
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

kpis = Table(
    "kpis",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("strategy_id", String(128), ForeignKey("strategies.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("objective_id", String(36), ForeignKey("objectives.id", ondelete="SET NULL"), nullable=True),
    Column("name", String(200), nullable=False),
    Column("unit", String(40), nullable=False),
    Column("baseline", Float, nullable=False),
    Column("baseline_date", Date, nullable=False),
    Column("target", Float, nullable=False),
    Column("target_date", Date, nullable=False),
    Column("position", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

kpi_measurements = Table(
    "kpi_measurements",
    metadata,
    Column("id", BigIntId, primary_key=True, autoincrement=True),
    Column("kpi_id", String(36), ForeignKey("kpis.id", ondelete="CASCADE"), nullable=False),
    Column("measured_on", Date, nullable=False),
    Column("value", Float, nullable=False),
    Column("note", String(500), nullable=True),
    Column("recorded_at", UTCDateTime, nullable=False),
    # One value per KPI and day: recording the day again corrects it.
    UniqueConstraint("kpi_id", "measured_on"),
)

review_schedules = Table(
    "review_schedules",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("cluster_id", String(128), nullable=False, index=True),
    Column("strategy_id", String(128), nullable=False, unique=True),
    # 'quarterly', 'six_monthly' or 'RRULE:…' (ReviewCadence.text)
    Column("cadence", String(300), nullable=False),
    Column("timezone", String(64), nullable=False),
    # The series starts here; its local time of day is the review's time of day.
    Column("anchor_at", UTCDateTime, nullable=False),
    Column("anchor_mode", String(16), nullable=False),  # domain.reminders.AnchorMode
    Column("lead_days", JSON, nullable=False),  # [14, 1]
    Column("escalate_after_days", Integer, nullable=True),  # null: never escalate
    # The review clock (domain.reminders.ReviewClock).
    Column("next_due_at", UTCDateTime, nullable=False, index=True),
    Column("reminded_through", UTCDateTime, nullable=False),
    Column("overdue_since", UTCDateTime, nullable=True),
    Column("missed_reviews", Integer, nullable=False, server_default=text("0")),
    Column("escalated", Boolean, nullable=False, server_default=false()),
    # What the scheduler looks for; null while the strategy is archived.
    Column("next_reminder_at", UTCDateTime, nullable=True, index=True),
    Column("last_fired_due_at", UTCDateTime, nullable=True),
    Column("last_fired_at", UTCDateTime, nullable=True),
    Column("last_reviewed_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

reviews = Table(
    "reviews",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("strategy_id", String(128), ForeignKey("strategies.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("cluster_id", String(128), nullable=False),
    Column("held_at", UTCDateTime, nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("closed_due_at", UTCDateTime, nullable=False),  # the review date this review answered
    Column("next_due_at", UTCDateTime, nullable=False),  # the review date it set
    Column("phase", String(20), nullable=False),  # the strategy's phase after the review
    Column("notes", Text, nullable=True),
    Column("decisions", JSON, nullable=False),  # ["…", …]
    Column("kpi_snapshot", JSON, nullable=False),  # [{kpi_id, name, unit, baseline, target, latest, progress, status}]
    Column("actions_reviewed", Integer, nullable=False),
)

proposed_actions = Table(
    "proposed_actions",
    metadata,
    Column("id", BigIntId, primary_key=True, autoincrement=True),
    Column("cluster_id", String(128), nullable=False, index=True),
    Column("strategy_id", String(128), nullable=False),
    Column("kind", String(32), nullable=False),
    # Which question the action answers (domain.agenda); one open action per key and cluster.
    Column("action_key", String(300), nullable=False),
    Column("text", String(500), nullable=False),
    # What the text says (member id, skill code, partner, offer, count): read back with today's names.
    Column("facts", JSON, nullable=True),
    # The event that last shaped the text.
    Column("source_event_id", String(128), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("reviewed_at", UTCDateTime, nullable=True),
    UniqueConstraint("source_event_id", "text"),
    Index(
        "uq_proposed_actions_open_key",
        "cluster_id",
        "action_key",
        unique=True,
        postgresql_where=text("reviewed_at IS NULL"),
        sqlite_where=text("reviewed_at IS NULL"),
    ),
)

# One row per matchmaking run, so a re-sent run counts once on the agenda ("new matches since the last review").
match_runs = Table(
    "match_runs",
    metadata,
    Column("match_run_id", String(128), primary_key=True),
    Column("event_id", String(128), nullable=False),
    Column("cluster_id", String(128), nullable=False),
    Column("member_id", String(128), nullable=False),
    Column("option_count", Integer, nullable=False),
    Column("pooled_count", Integer, nullable=False),
    Column("skill_codes", JSON, nullable=False),  # the skills the run proposed partners for
    Column("matched_at", UTCDateTime, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Index("ix_match_runs_cluster_received", "cluster_id", "received_at"),
)

# Gap assessments from skills ("new gaps since the last review"): skill codes only, no personal data.
gap_assessments = Table(
    "gap_assessments",
    metadata,
    Column("assessment_id", String(128), primary_key=True),
    Column("cluster_id", String(128), nullable=False),
    Column("member_id", String(128), nullable=False),
    Column("theme", String(40), nullable=False),
    Column("skill_codes", JSON, nullable=False),
    Column("assessed_at", UTCDateTime, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Index("ix_gap_assessments_cluster_received", "cluster_id", "received_at"),
)

# The secret of each cluster's calendar feed, stored as its SHA-256 (the token itself is shown once).
calendar_feeds = Table(
    "calendar_feeds",
    metadata,
    Column("cluster_id", String(128), primary_key=True),
    Column("token_sha256", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)
