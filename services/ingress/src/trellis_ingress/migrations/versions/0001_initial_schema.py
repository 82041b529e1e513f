"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-27 07:00:39.211204
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import trellis_common.db
from trellis_common.migrations import add_outbox_failure_columns, create_messaging_tables, drop_messaging_tables

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_messaging_tables()
    add_outbox_failure_columns()
    op.create_table(
        "accepted_events",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=512), nullable=False),
        sa.Column("event_type", sa.String(length=200), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("caller", sa.String(length=256), nullable=False),
        sa.Column("accepted_at", trellis_common.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_accepted_events")),
    )
    with op.batch_alter_table("accepted_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_accepted_events_accepted_at"), ["accepted_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("accepted_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accepted_events_accepted_at"))
    op.drop_table("accepted_events")
    drop_messaging_tables()
