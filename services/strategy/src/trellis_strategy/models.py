"""The strategy service's tables: review schedules, proposed actions and the match runs seen.

Room to grow: a later ``strategies`` table (objectives, KPIs, review records) takes ``strategy_id`` as its key;
when a cluster may hold several strategies, the unique constraint moves from ``cluster_id`` to
``strategy_id``. Lead-time reminders and escalations are further rows of ``schedule_fires`` under their own
keys (``review-upcoming:<id>``, ``review-overdue:<id>``) for the same due time, so each fires once as well.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, String, Table, UniqueConstraint, text

from trellis_common.db import BigIntId, UTCDateTime, new_metadata

metadata = new_metadata()

review_schedules = Table(
    "review_schedules",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("cluster_id", String(128), nullable=False, unique=True),
    Column("strategy_id", String(128), nullable=False, index=True),
    Column("strategy_title", String(200), nullable=False),
    # 'quarterly', 'six_monthly' or 'RRULE:…' (ReviewCadence.text)
    Column("cadence", String(300), nullable=False),
    Column("timezone", String(64), nullable=False),
    # The series starts here; its local time of day is the review's time of day.
    Column("anchor_at", UTCDateTime, nullable=False),
    Column("next_due_at", UTCDateTime, nullable=False, index=True),
    Column("last_fired_due_at", UTCDateTime, nullable=True),
    Column("last_fired_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
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

# One row per matchmaking run, so a re-sent run counts once; ``agenda_reminder_id`` is set when a review
# reminder reports the run ("new matches since the last review").
match_runs = Table(
    "match_runs",
    metadata,
    Column("match_run_id", String(128), primary_key=True),
    Column("event_id", String(128), nullable=False),
    Column("cluster_id", String(128), nullable=False),
    Column("member_id", String(128), nullable=False),
    Column("option_count", Integer, nullable=False),
    Column("pooled_count", Integer, nullable=False),
    Column("matched_at", UTCDateTime, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("agenda_reminder_id", String(64), nullable=True),
    Index("ix_match_runs_cluster_agenda", "cluster_id", "agenda_reminder_id"),
)
