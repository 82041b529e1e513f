"""partners belong to a cluster (owner_cluster_id, open_to_other_clusters) or are shared platform-wide

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Partners registered before are shared: NULL owner, as platform admins made them.
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner_cluster_id", sa.String(length=128), nullable=True))
        batch_op.add_column(
            sa.Column("open_to_other_clusters", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.create_index(batch_op.f("ix_partners_owner_cluster_id"), ["owner_cluster_id"], unique=False)
    op.execute(sa.text("UPDATE partners SET open_to_other_clusters = true"))  # shared: open to every cluster


def downgrade() -> None:
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_partners_owner_cluster_id"))
        batch_op.drop_column("open_to_other_clusters")
        batch_op.drop_column("owner_cluster_id")
