"""incremental matching: gaps one row each, offers indexed by skill, no period lock

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 18:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import trellis_common.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HOLDS_SEAT = ("proposed", "accepted", "completed")


def upgrade() -> None:
    op.create_table(
        "offer_skills",
        sa.Column("offer_id", sa.String(length=64), nullable=False),
        sa.Column("skill_code", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["offer_id"], ["offers.id"], name=op.f("fk_offer_skills_offer_id_offers"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("offer_id", "skill_code", name=op.f("pk_offer_skills")),
    )
    op.create_index("ix_offer_skills_skill_code", "offer_skills", ["skill_code", "offer_id"], unique=False)
    op.create_table(
        "member_gaps",
        sa.Column("member_id", sa.String(length=128), nullable=False),
        sa.Column("skill_code", sa.String(length=64), nullable=False),
        sa.Column("cluster_id", sa.String(length=128), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.Float(), nullable=False),
        sa.Column("gap", sa.JSON(), nullable=False),
        sa.Column("match_id", sa.String(length=64), nullable=True),
        sa.Column("waiting_since", trellis_common.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("member_id", "skill_code", name=op.f("pk_member_gaps")),
    )
    op.create_index(
        "ix_member_gaps_waiting",
        "member_gaps",
        ["period", "skill_code", "priority", "member_id"],
        unique=False,
        postgresql_where=sa.text("match_id IS NULL"),
        sqlite_where=sa.text("match_id IS NULL"),
    )
    op.create_index("ix_member_gaps_sharing", "member_gaps", ["cluster_id", "period", "skill_code"], unique=False)
    _copy_into_new_tables()
    with op.batch_alter_table("member_needs", schema=None) as batch_op:
        batch_op.drop_column("gaps")
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_matches_offer_id"))
        batch_op.create_index("ix_matches_offer_period_status", ["offer_id", "period", "status"], unique=False)
    op.drop_table("match_periods")


def _copy_into_new_tables() -> None:
    bind = op.get_bind()
    offers = sa.table("offers", sa.column("id"), sa.column("skill_codes", sa.JSON))
    offer_skills = sa.table("offer_skills", sa.column("offer_id"), sa.column("skill_code"))
    rows = [
        {"offer_id": offer_id, "skill_code": code}
        for offer_id, codes in bind.execute(sa.select(offers.c.id, offers.c.skill_codes))
        for code in sorted(set(codes or []))
    ]
    if rows:
        bind.execute(offer_skills.insert(), rows)

    needs = sa.table(
        "member_needs",
        sa.column("member_id"),
        sa.column("cluster_id"),
        sa.column("period"),
        sa.column("gaps", sa.JSON),
        sa.column("updated_at", trellis_common.db.UTCDateTime),
    )
    matches = sa.table(
        "matches",
        sa.column("id"),
        sa.column("member_id"),
        sa.column("skill_code"),
        sa.column("period"),
        sa.column("status"),
    )
    seats = {
        (member_id, skill_code, period): match_id
        for match_id, member_id, skill_code, period in bind.execute(
            sa.select(matches.c.id, matches.c.member_id, matches.c.skill_code, matches.c.period).where(
                matches.c.status.in_(HOLDS_SEAT)
            )
        )
    }
    gaps_table = sa.table(
        "member_gaps",
        sa.column("member_id"),
        sa.column("skill_code"),
        sa.column("cluster_id"),
        sa.column("period"),
        sa.column("priority"),
        sa.column("gap", sa.JSON),
        sa.column("match_id"),
        sa.column("waiting_since", trellis_common.db.UTCDateTime),
    )
    gap_rows = [
        {
            "member_id": need.member_id,
            "skill_code": gap["skill_code"],
            "cluster_id": need.cluster_id,
            "period": need.period,
            "priority": float(gap["priority"]),
            "gap": gap,
            "match_id": seats.get((need.member_id, gap["skill_code"], need.period)),
            "waiting_since": need.updated_at,
        }
        for need in bind.execute(sa.select(needs))
        for gap in need.gaps or []
    ]
    if gap_rows:
        bind.execute(gaps_table.insert(), gap_rows)


def downgrade() -> None:
    op.create_table(
        "match_periods",
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("rounds", sa.Integer(), nullable=False),
        sa.Column("solved_at", trellis_common.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("period", name=op.f("pk_match_periods")),
    )
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.drop_index("ix_matches_offer_period_status")
        batch_op.create_index(batch_op.f("ix_matches_offer_id"), ["offer_id"], unique=False)
    with op.batch_alter_table("member_needs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("gaps", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
    bind = op.get_bind()
    gaps_table = sa.table("member_gaps", sa.column("member_id"), sa.column("gap", sa.JSON))
    needs = sa.table("member_needs", sa.column("member_id"), sa.column("gaps", sa.JSON))
    by_member: dict[str, list[object]] = {}
    for member_id, gap in bind.execute(sa.select(gaps_table.c.member_id, gaps_table.c.gap)):
        by_member.setdefault(member_id, []).append(gap)
    for member_id, gaps in by_member.items():
        bind.execute(sa.update(needs).where(needs.c.member_id == member_id).values(gaps=gaps))
    op.drop_index("ix_member_gaps_sharing", table_name="member_gaps")
    op.drop_index(
        "ix_member_gaps_waiting",
        table_name="member_gaps",
        postgresql_where=sa.text("match_id IS NULL"),
        sqlite_where=sa.text("match_id IS NULL"),
    )
    op.drop_table("member_gaps")
    op.drop_index("ix_offer_skills_skill_code", table_name="offer_skills")
    op.drop_table("offer_skills")
