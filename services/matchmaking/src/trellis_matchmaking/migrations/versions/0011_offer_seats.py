"""seats held per offer and period, kept by triggers on matches

A round read its offers' seats by counting their matches: every seat held in the offers a batch could use, more
as the platform grows. ``offer_seats`` keeps the count, one row per offer and period, written by triggers on
``matches`` in the same transaction as the match itself, so no write path can forget it. The trigger is created
before the backfill, in one transaction: on PostgreSQL it locks ``matches`` against writes until the count is in.

The statuses that hold a seat are written out here as they were at this revision (the domain's ``HOLDS_SEAT``; a
test compares them): should that set change, a new migration replaces the triggers and recounts.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08 04:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HOLDS_SEAT = ("proposed", "accepted", "completed")
_HOLDING = ", ".join(f"'{status}'" for status in HOLDS_SEAT)
_MOVED = "OLD.status IS DISTINCT FROM NEW.status OR OLD.offer_id <> NEW.offer_id OR OLD.period <> NEW.period"

POSTGRESQL_TRIGGERS = [
    f"""
CREATE FUNCTION offer_seats_follow_matches() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.status IN ({_HOLDING}) THEN
        UPDATE offer_seats SET held = held - 1 WHERE offer_id = OLD.offer_id AND period = OLD.period;
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.status IN ({_HOLDING}) THEN
        INSERT INTO offer_seats (offer_id, period, held) VALUES (NEW.offer_id, NEW.period, 1)
        ON CONFLICT (offer_id, period) DO UPDATE SET held = offer_seats.held + 1;
    END IF;
    RETURN NULL;
END
$$""",  # noqa: S608 - the statuses are this revision's constants, no input
    "CREATE TRIGGER offer_seats_on_insert_or_delete AFTER INSERT OR DELETE ON matches"
    " FOR EACH ROW EXECUTE FUNCTION offer_seats_follow_matches()",
    "CREATE TRIGGER offer_seats_on_update AFTER UPDATE OF status, offer_id, period ON matches"
    f" FOR EACH ROW WHEN ({_MOVED}) EXECUTE FUNCTION offer_seats_follow_matches()",
]

_SQLITE_MOVED = _MOVED.replace("IS DISTINCT FROM", "IS NOT")
_TAKE = (
    "INSERT INTO offer_seats (offer_id, period, held) VALUES (NEW.offer_id, NEW.period, 1)"
    " ON CONFLICT (offer_id, period) DO UPDATE SET held = held + 1;"
)
_GIVE_BACK = "UPDATE offer_seats SET held = held - 1 WHERE offer_id = OLD.offer_id AND period = OLD.period;"
SQLITE_TRIGGERS = [
    f"CREATE TRIGGER offer_seats_on_insert AFTER INSERT ON matches WHEN NEW.status IN ({_HOLDING}) BEGIN {_TAKE} END",
    f"CREATE TRIGGER offer_seats_on_delete AFTER DELETE ON matches WHEN OLD.status IN ({_HOLDING})"
    f" BEGIN {_GIVE_BACK} END",
    f"CREATE TRIGGER offer_seats_on_update_from AFTER UPDATE OF status, offer_id, period ON matches"
    f" WHEN OLD.status IN ({_HOLDING}) AND ({_SQLITE_MOVED}) BEGIN {_GIVE_BACK} END",
    f"CREATE TRIGGER offer_seats_on_update_to AFTER UPDATE OF status, offer_id, period ON matches"
    f" WHEN NEW.status IN ({_HOLDING}) AND ({_SQLITE_MOVED}) BEGIN {_TAKE} END",
]
_BACKFILL = f"INSERT INTO offer_seats (offer_id, period, held) SELECT offer_id, period, count(*) FROM matches WHERE status IN ({_HOLDING}) GROUP BY offer_id, period"  # noqa: S608 - constants, no input
_SQLITE_TRIGGER_NAMES = (
    "offer_seats_on_insert",
    "offer_seats_on_delete",
    "offer_seats_on_update_from",
    "offer_seats_on_update_to",
)


def upgrade() -> None:
    op.create_table(
        "offer_seats",
        sa.Column("offer_id", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("held", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("offer_id", "period", name=op.f("pk_offer_seats")),
    )
    for statement in POSTGRESQL_TRIGGERS if op.get_bind().dialect.name == "postgresql" else SQLITE_TRIGGERS:
        op.execute(statement)
    op.execute(_BACKFILL)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER offer_seats_on_update ON matches")
        op.execute("DROP TRIGGER offer_seats_on_insert_or_delete ON matches")
        op.execute("DROP FUNCTION offer_seats_follow_matches()")
    else:
        for name in _SQLITE_TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER {name}")
    op.drop_table("offer_seats")
