"""strategies, objectives, KPIs, review records, reminder clock, calendar feeds

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import trellis_common.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "calendar_feeds",
        sa.Column("cluster_id", sa.String(length=128), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", trellis_common.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("cluster_id", name=op.f("pk_calendar_feeds")),
    )
    op.create_table(
        "gap_assessments",
        sa.Column("assessment_id", sa.String(length=128), nullable=False),
        sa.Column("cluster_id", sa.String(length=128), nullable=False),
        sa.Column("member_id", sa.String(length=128), nullable=False),
        sa.Column("theme", sa.String(length=40), nullable=False),
        sa.Column("skill_codes", sa.JSON(), nullable=False),
        sa.Column("assessed_at", trellis_common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", trellis_common.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("assessment_id", name=op.f("pk_gap_assessments")),
    )
    with op.batch_alter_table("gap_assessments", schema=None) as batch_op:
        batch_op.create_index("ix_gap_assessments_cluster_received", ["cluster_id", "received_at"], unique=False)

    op.create_table(
        "strategies",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("cluster_id", sa.String(length=128), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("phase", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("owners", sa.JSON(), nullable=False),
        sa.Column("archived_at", trellis_common.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", trellis_common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", trellis_common.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_strategies")),
    )
    with op.batch_alter_table("strategies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_strategies_cluster_id"), ["cluster_id"], unique=False)
        batch_op.create_index(
            "uq_strategies_overall",
            ["cluster_id"],
            unique=True,
            postgresql_where=sa.text("type = 'overall'"),
            sqlite_where=sa.text("type = 'overall'"),
        )

    op.create_table(
        "objectives",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("strategy_id", sa.String(length=128), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", trellis_common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", trellis_common.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["strategy_id"], ["strategies.id"], name=op.f("fk_objectives_strategy_id_strategies"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_objectives")),
    )
    with op.batch_alter_table("objectives", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_objectives_strategy_id"), ["strategy_id"], unique=False)

    op.create_table(
        "reviews",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("strategy_id", sa.String(length=128), nullable=False),
        sa.Column("cluster_id", sa.String(length=128), nullable=False),
        sa.Column("held_at", trellis_common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", trellis_common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_due_at", trellis_common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("next_due_at", trellis_common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("phase", sa.String(length=20), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("decisions", sa.JSON(), nullable=False),
        sa.Column("kpi_snapshot", sa.JSON(), nullable=False),
        sa.Column("actions_reviewed", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["strategy_id"], ["strategies.id"], name=op.f("fk_reviews_strategy_id_strategies"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviews")),
    )
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reviews_strategy_id"), ["strategy_id"], unique=False)

    op.create_table(
        "kpis",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("strategy_id", sa.String(length=128), nullable=False),
        sa.Column("objective_id", sa.String(length=36), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("unit", sa.String(length=40), nullable=False),
        sa.Column("baseline", sa.Float(), nullable=False),
        sa.Column("baseline_date", sa.Date(), nullable=False),
        sa.Column("target", sa.Float(), nullable=False),
        sa.Column("target_date", sa.Date(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", trellis_common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", trellis_common.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["objective_id"], ["objectives.id"], name=op.f("fk_kpis_objective_id_objectives"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["strategy_id"], ["strategies.id"], name=op.f("fk_kpis_strategy_id_strategies"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpis")),
    )
    with op.batch_alter_table("kpis", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kpis_strategy_id"), ["strategy_id"], unique=False)

    op.create_table(
        "kpi_measurements",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("kpi_id", sa.String(length=36), nullable=False),
        sa.Column("measured_on", sa.Date(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("recorded_at", trellis_common.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["kpi_id"], ["kpis.id"], name=op.f("fk_kpi_measurements_kpi_id_kpis"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpi_measurements")),
        sa.UniqueConstraint("kpi_id", "measured_on", name=op.f("uq_kpi_measurements_kpi_id_measured_on")),
    )
    # Match runs remember the skills they were about (agenda per strategy theme); the per-reminder marker goes:
    # the agenda now covers everything since the last recorded review.
    with op.batch_alter_table("match_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("skill_codes", sa.JSON(), nullable=True))
        batch_op.drop_index(batch_op.f("ix_match_runs_cluster_agenda"))
        batch_op.create_index("ix_match_runs_cluster_received", ["cluster_id", "received_at"], unique=False)
        batch_op.drop_column("agenda_reminder_id")
    op.execute("UPDATE match_runs SET skill_codes = '[]'")
    with op.batch_alter_table("match_runs", schema=None) as batch_op:
        batch_op.alter_column("skill_codes", existing_type=sa.JSON(), nullable=False)

    with op.batch_alter_table("review_schedules", schema=None) as batch_op:
        batch_op.add_column(sa.Column("anchor_mode", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("lead_days", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("escalate_after_days", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("reminded_through", trellis_common.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("overdue_since", trellis_common.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("missed_reviews", sa.Integer(), server_default=sa.text("0"), nullable=False))
        batch_op.add_column(sa.Column("escalated", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("next_reminder_at", trellis_common.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_reviewed_at", trellis_common.db.UTCDateTime(timezone=True), nullable=True))

    # Each existing schedule belonged to its cluster's one strategy: that becomes the cluster's overall strategy.
    # Reminders resume from the last fire (or the creation); an outage before the upgrade is not an overdue spell.
    op.execute(
        "INSERT INTO strategies (id, cluster_id, type, phase, title, description, owners, archived_at, created_at, updated_at) "
        "SELECT strategy_id, cluster_id, 'overall', 'diagnostics', strategy_title, NULL, '[]', NULL, created_at, updated_at "
        "FROM review_schedules"
    )
    op.execute(
        "UPDATE review_schedules SET anchor_mode = 'calendar', lead_days = '[14, 1]', escalate_after_days = 14, "
        "reminded_through = COALESCE(last_fired_at, created_at), next_reminder_at = COALESCE(last_fired_at, created_at)"
    )

    with op.batch_alter_table("review_schedules", schema=None) as batch_op:
        batch_op.alter_column("anchor_mode", existing_type=sa.String(length=16), nullable=False)
        batch_op.alter_column("lead_days", existing_type=sa.JSON(), nullable=False)
        batch_op.alter_column(
            "reminded_through", existing_type=trellis_common.db.UTCDateTime(timezone=True), nullable=False
        )
        batch_op.drop_index(batch_op.f("ix_review_schedules_strategy_id"))
        batch_op.drop_constraint(batch_op.f("uq_review_schedules_cluster_id"), type_="unique")
        batch_op.create_index(batch_op.f("ix_review_schedules_cluster_id"), ["cluster_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_review_schedules_next_reminder_at"), ["next_reminder_at"], unique=False)
        batch_op.create_unique_constraint(batch_op.f("uq_review_schedules_strategy_id"), ["strategy_id"])
        batch_op.drop_column("strategy_title")


def downgrade() -> None:
    # Back to one schedule per cluster: keep the overall strategy's schedule, with its title.
    op.execute(
        "DELETE FROM review_schedules WHERE strategy_id NOT IN (SELECT id FROM strategies WHERE type = 'overall')"
    )
    with op.batch_alter_table("review_schedules", schema=None) as batch_op:
        batch_op.add_column(sa.Column("strategy_title", sa.VARCHAR(length=200), nullable=True))
    op.execute(
        "UPDATE review_schedules SET strategy_title = "
        "(SELECT title FROM strategies WHERE strategies.id = review_schedules.strategy_id)"
    )
    with op.batch_alter_table("review_schedules", schema=None) as batch_op:
        batch_op.alter_column("strategy_title", existing_type=sa.VARCHAR(length=200), nullable=False)
        batch_op.drop_constraint(batch_op.f("uq_review_schedules_strategy_id"), type_="unique")
        batch_op.drop_index(batch_op.f("ix_review_schedules_next_reminder_at"))
        batch_op.drop_index(batch_op.f("ix_review_schedules_cluster_id"))
        batch_op.create_unique_constraint(batch_op.f("uq_review_schedules_cluster_id"), ["cluster_id"])
        batch_op.create_index(batch_op.f("ix_review_schedules_strategy_id"), ["strategy_id"], unique=False)
        batch_op.drop_column("last_reviewed_at")
        batch_op.drop_column("next_reminder_at")
        batch_op.drop_column("escalated")
        batch_op.drop_column("missed_reviews")
        batch_op.drop_column("overdue_since")
        batch_op.drop_column("reminded_through")
        batch_op.drop_column("escalate_after_days")
        batch_op.drop_column("lead_days")
        batch_op.drop_column("anchor_mode")

    with op.batch_alter_table("match_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agenda_reminder_id", sa.VARCHAR(length=64), nullable=True))
        batch_op.drop_index("ix_match_runs_cluster_received")
        batch_op.create_index(
            batch_op.f("ix_match_runs_cluster_agenda"), ["cluster_id", "agenda_reminder_id"], unique=False
        )
        batch_op.drop_column("skill_codes")

    op.drop_table("kpi_measurements")
    with op.batch_alter_table("kpis", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kpis_strategy_id"))

    op.drop_table("kpis")
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reviews_strategy_id"))

    op.drop_table("reviews")
    with op.batch_alter_table("objectives", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_objectives_strategy_id"))

    op.drop_table("objectives")
    with op.batch_alter_table("strategies", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_strategies_overall",
            postgresql_where=sa.text("type = 'overall'"),
            sqlite_where=sa.text("type = 'overall'"),
        )
        batch_op.drop_index(batch_op.f("ix_strategies_cluster_id"))

    op.drop_table("strategies")
    with op.batch_alter_table("gap_assessments", schema=None) as batch_op:
        batch_op.drop_index("ix_gap_assessments_cluster_received")

    op.drop_table("gap_assessments")
    op.drop_table("calendar_feeds")
