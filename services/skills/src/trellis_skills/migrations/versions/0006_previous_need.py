"""member_skill_profiles.previous_headcount_needed: what a member needed at its previous answer

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 00:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable, no default: existing rows have no previous answer on record, which is what a first answer has.
    with op.batch_alter_table("member_skill_profiles") as batch:
        batch.add_column(sa.Column("previous_headcount_needed", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("member_skill_profiles") as batch:
        batch.drop_column("previous_headcount_needed")
