"""events about members not known yet wait in parked_events until surveys.member.changed brings the member

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 09:00:00.000000
"""

from collections.abc import Sequence

from trellis_common.migrations import create_parked_events_table, drop_parked_events_table

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_parked_events_table()


def downgrade() -> None:
    drop_parked_events_table()
