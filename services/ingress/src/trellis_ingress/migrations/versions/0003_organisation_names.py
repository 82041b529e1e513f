"""members and clusters by id (member_names, cluster_names) from surveys.member.changed, to refuse unknown clusters

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 09:00:00.000000
"""

from collections.abc import Sequence

from trellis_common.migrations import create_name_tables, drop_name_tables

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_name_tables()


def downgrade() -> None:
    drop_name_tables()
