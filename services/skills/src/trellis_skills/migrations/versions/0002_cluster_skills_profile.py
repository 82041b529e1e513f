"""cluster skills profile and supply figures

Each member's latest answer per skill (not only its gaps) and its context, so the cluster's demand and
supply can be profiled; supply figures other systems report. ``member_skill_severity`` is folded into
``member_skill_profiles``: its rows are carried over from the latest assessment that produced them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 04:30:18.549864
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import trellis_common.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = trellis_common.db.UTCDateTime


def upgrade() -> None:
    cluster_members = op.create_table(
        "cluster_members",
        sa.Column("cluster_id", sa.String(length=128), nullable=False),
        sa.Column("member_id", sa.String(length=128), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("region", sa.String(length=64), nullable=True),
        sa.Column("size_class", sa.String(length=16), nullable=True),
        sa.Column("sector", sa.String(length=16), nullable=True),
        sa.Column("member_type", sa.String(length=32), nullable=False),
        sa.Column("answered_at", UTC(timezone=True), nullable=False),
        sa.Column("updated_at", UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("cluster_id", "member_id", name=op.f("pk_cluster_members")),
    )
    profiles = op.create_table(
        "member_skill_profiles",
        sa.Column("cluster_id", sa.String(length=128), nullable=False),
        sa.Column("member_id", sa.String(length=128), nullable=False),
        sa.Column("skill_code", sa.String(length=64), nullable=False),
        sa.Column("current_level", sa.Integer(), nullable=False),
        sa.Column("required_level", sa.Integer(), nullable=False),
        sa.Column("headcount_having", sa.Integer(), nullable=False),
        sa.Column("headcount_needed", sa.Integer(), nullable=False),
        sa.Column("importance", sa.Integer(), nullable=False),
        sa.Column("severity", sa.Float(), nullable=False),
        sa.Column("response_id", sa.String(length=128), nullable=False),
        sa.Column("answered_at", UTC(timezone=True), nullable=False),
        sa.Column("updated_at", UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("cluster_id", "member_id", "skill_code", name=op.f("pk_member_skill_profiles")),
    )
    op.create_table(
        "supply_figures",
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("scope_key", sa.String(length=128), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("skill_code", sa.String(length=64), nullable=False),
        sa.Column("headcount", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=True),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("reported_at", UTC(timezone=True), nullable=False),
        sa.Column("report_id", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("scope", "scope_key", "source", "skill_code", name=op.f("pk_supply_figures")),
    )
    op.create_table(
        "supply_reports",
        sa.Column("report_id", sa.String(length=128), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("scope_id", sa.String(length=128), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("received_via", sa.String(length=16), nullable=False),
        sa.Column("reported_at", UTC(timezone=True), nullable=False),
        sa.Column("received_at", UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("report_id", name=op.f("pk_supply_reports")),
    )
    _carry_over(cluster_members, profiles)
    op.drop_table("member_skill_severity")


def _carry_over(cluster_members: sa.Table, profiles: sa.Table) -> None:
    """Rebuild what the new tables can know from the assessments so far.

    Assessments kept only the skills with a gap. A gap becomes the member's stored answer when the old
    severity row still says the same severity; otherwise a later answer closed it and its levels are unknown
    (dropping it loses nothing: a previous severity of 0 and no previous answer both give the trend "new").
    """
    bind = op.get_bind()
    assessments = sa.table(
        "assessments",
        sa.column("id", sa.String),
        sa.column("response_id", sa.String),
        sa.column("cluster_id", sa.String),
        sa.column("member_id", sa.String),
        sa.column("member_context", sa.JSON),
        sa.column("gaps", sa.JSON),
        sa.column("assessed_at", UTC(timezone=True)),
    )
    old = sa.table(
        "member_skill_severity",
        sa.column("member_id", sa.String),
        sa.column("skill_code", sa.String),
        sa.column("severity", sa.Float),
    )
    severities = {(r.member_id, r.skill_code): r.severity for r in bind.execute(sa.select(old))}
    members: dict[tuple[str, str], dict[str, Any]] = {}
    answers: dict[tuple[str, str], dict[str, Any]] = {}
    ordered = sa.select(assessments).order_by(assessments.c.assessed_at, assessments.c.id)
    for row in bind.execute(ordered):
        context = row.member_context or {}
        members[(row.cluster_id, row.member_id)] = {
            "cluster_id": row.cluster_id,
            "member_id": row.member_id,
            "country": context.get("country"),
            "region": context.get("region"),
            "size_class": context.get("size_class"),
            "sector": context.get("sector"),
            "member_type": context.get("member_type") or "sme",
            "answered_at": row.assessed_at,
            "updated_at": row.assessed_at,
        }
        for gap in row.gaps or []:
            answers[(row.member_id, gap["skill_code"])] = {
                "cluster_id": row.cluster_id,
                "member_id": row.member_id,
                "skill_code": gap["skill_code"],
                "current_level": gap["current_level"],
                "required_level": gap["required_level"],
                "headcount_having": gap["headcount_having"],
                "headcount_needed": gap["headcount_needed"],
                "importance": gap["importance"],
                "severity": gap["level_gap"] + 0.5 * gap["headcount_gap"],
                "response_id": row.response_id,
                "answered_at": row.assessed_at,
                "updated_at": row.assessed_at,
            }
    kept = [a for key, a in answers.items() if severities.get(key) == a["severity"]]
    if members:
        op.bulk_insert(cluster_members, list(members.values()))
    if kept:
        op.bulk_insert(profiles, kept)


def downgrade() -> None:
    severity = op.create_table(
        "member_skill_severity",
        sa.Column("member_id", sa.String(length=128), nullable=False),
        sa.Column("skill_code", sa.String(length=64), nullable=False),
        sa.Column("severity", sa.Float(), nullable=False),
        sa.Column("updated_at", UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("member_id", "skill_code", name=op.f("pk_member_skill_severity")),
    )
    profiles = sa.table(
        "member_skill_profiles",
        sa.column("member_id", sa.String),
        sa.column("skill_code", sa.String),
        sa.column("severity", sa.Float),
        sa.column("answered_at", UTC(timezone=True)),
        sa.column("updated_at", UTC(timezone=True)),
    )
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for row in op.get_bind().execute(sa.select(profiles).order_by(profiles.c.answered_at)):
        latest[(row.member_id, row.skill_code)] = {
            "member_id": row.member_id,
            "skill_code": row.skill_code,
            "severity": row.severity,
            "updated_at": row.updated_at,
        }
    if latest:
        op.bulk_insert(severity, list(latest.values()))
    op.drop_table("supply_reports")
    op.drop_table("supply_figures")
    op.drop_table("member_skill_profiles")
    op.drop_table("cluster_members")
