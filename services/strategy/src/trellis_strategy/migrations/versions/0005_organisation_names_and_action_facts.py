"""organisations' names by id (member_names, cluster_names); proposed actions keep their facts

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 09:00:00.000000

Actions proposed before this revision get their facts read back from their text (its two fixed shapes), so
agendas name their members and skills from now on too; a text of another shape keeps no facts and is shown
as it was.
"""

import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from trellis_common.migrations import create_name_tables, drop_name_tables

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_POOLED = re.compile(r"(?P<count>\d+) members share a (?P<skill>\S+) gap; pooled (?P<offer>.*) from (?P<partner>.*)")
_MEMBER = re.compile(r"Member (?P<member>\S+) could work with (?P<partner>.*) on (?P<skill>\S+)")


def _facts(kind: str, text: str) -> dict[str, Any] | None:
    if kind == "pooled_offer" and (found := _POOLED.fullmatch(text)):
        return {
            "skill_code": found["skill"],
            "offer_title": found["offer"],
            "partner_name": found["partner"],
            "member_count": int(found["count"]),
        }
    if kind == "member_partner" and (found := _MEMBER.fullmatch(text)):
        return {"member_id": found["member"], "skill_code": found["skill"], "partner_name": found["partner"]}
    return None


def upgrade() -> None:
    create_name_tables()
    with op.batch_alter_table("proposed_actions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("facts", sa.JSON(), nullable=True))
    actions = sa.table(
        "proposed_actions", sa.column("id"), sa.column("kind"), sa.column("text"), sa.column("facts", sa.JSON())
    )
    bind = op.get_bind()
    for action_id, kind, text in bind.execute(sa.select(actions.c.id, actions.c.kind, actions.c.text)).all():
        facts = _facts(kind, text)
        if facts is not None:
            bind.execute(sa.update(actions).where(actions.c.id == action_id).values(facts=facts))


def downgrade() -> None:
    with op.batch_alter_table("proposed_actions", schema=None) as batch_op:
        batch_op.drop_column("facts")
    drop_name_tables()
