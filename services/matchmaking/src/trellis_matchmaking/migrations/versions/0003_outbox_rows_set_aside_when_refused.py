"""outbox rows set aside when refused

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 05:03:15.670182
"""

from collections.abc import Sequence

from trellis_common.migrations import add_outbox_failure_columns, drop_outbox_failure_columns

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    add_outbox_failure_columns()


def downgrade() -> None:
    drop_outbox_failure_columns()
