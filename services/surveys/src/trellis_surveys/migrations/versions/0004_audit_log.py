"""audit log of administrative actions

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 07:25:00.000000
"""

from collections.abc import Sequence

from trellis_common.migrations import create_audit_log_table, drop_audit_log_table

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_audit_log_table()


def downgrade() -> None:
    drop_audit_log_table()
