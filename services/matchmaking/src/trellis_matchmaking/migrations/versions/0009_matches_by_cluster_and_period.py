"""a cluster's matches of a period are counted and paged newest first from an index

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 08:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.create_index(
            "ix_matches_cluster_period_created", ["cluster_id", "period", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_matches_cluster_period_status_created",
            ["cluster_id", "period", "status", "created_at", "id"],
            unique=False,
        )
        # The new indexes begin with cluster_id: the index on it alone serves nothing they do not.
        batch_op.drop_index(batch_op.f("ix_matches_cluster_id"))


def downgrade() -> None:
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_matches_cluster_id"), ["cluster_id"], unique=False)
        batch_op.drop_index("ix_matches_cluster_period_status_created")
        batch_op.drop_index("ix_matches_cluster_period_created")
