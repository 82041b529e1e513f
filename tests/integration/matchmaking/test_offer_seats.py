"""``offer_seats`` counts the seats each offer holds per period, kept by triggers on ``matches``: after any mix
of new matches, changes of status, offer or period, and deletions, every count equals the matches that hold a
seat; a database migrated with matches already there starts with their count. On PostgreSQL and SQLite alike."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, insert, select, update

from tests.conftest import NewDatabase
from tests.integration.matchmaking.conftest import seat_count_migration
from trellis_common.db import Database
from trellis_common.migrations import upgrade
from trellis_matchmaking.domain.outcomes import HOLDS_SEAT, MatchStatus
from trellis_matchmaking.models import matches, offer_seats
from trellis_matchmaking.service import DEFINITION

NOW = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
OFFERS = ("o-1", "o-2", "o-3")
PERIODS = ("2026-Q4", "2027-Q1")


def _match(n: int, rng: random.Random) -> dict[str, Any]:
    return {
        "id": f"x-{n}",
        "period": rng.choice(PERIODS),
        "status": rng.choice(list(MatchStatus)).value,
        "cluster_id": "c-1",
        "member_id": f"m-{n}",
        "assessment_id": f"a-{n}",
        "skill_code": "digcomp:3.4",
        "priority": 10.0,
        "offer_id": rng.choice(OFFERS),
        "partner_id": "p-1",
        "partner_name": "Partner",
        "partner_type": "university",
        "offer_title": "Offer",
        "format": "training",
        "delivery": "online",
        "score": 0.5,
        "explanation": [],
        "created_at": NOW,
        "updated_at": NOW,
    }


async def _counts(database: Database) -> tuple[dict[tuple[str, str], int], dict[tuple[str, str], int]]:
    """(what offer_seats says, what the matches say), zero counts left out."""
    async with database.engine.connect() as conn:
        kept = (await conn.execute(select(offer_seats.c.offer_id, offer_seats.c.period, offer_seats.c.held))).all()
        holding = matches.c.status.in_([s.value for s in HOLDS_SEAT])
        query = select(matches.c.offer_id, matches.c.period, func.count()).where(holding)
        counted = (await conn.execute(query.group_by(matches.c.offer_id, matches.c.period))).all()
    return {(o, p): n for o, p, n in kept if n}, {(o, p): n for o, p, n in counted}


async def _exercise(url: str) -> None:
    rng = random.Random(20261208)
    await upgrade(DEFINITION, url, "0010")
    database = Database(url)
    try:
        async with database.engine.begin() as conn:  # matches from before the count existed
            await conn.execute(insert(matches), [_match(n, rng) for n in range(40)])
        await upgrade(DEFINITION, url)
        kept, counted = await _counts(database)
        assert kept == counted and sum(counted.values()) > 0

        made = 40
        for _ in range(150):
            async with database.engine.begin() as conn:
                step = rng.random()
                target = matches.c.id == f"x-{rng.randrange(made)}"
                if step < 0.3:  # a round's proposals: several rows in one statement
                    count = rng.randint(1, 4)
                    await conn.execute(insert(matches), [_match(made + i, rng) for i in range(count)])
                    made += count
                elif step < 0.7:  # an outcome, a release, a withdrawal
                    status = rng.choice(list(MatchStatus)).value
                    await conn.execute(update(matches).where(target).values(status=status, updated_at=NOW))
                elif step < 0.8:  # moved to another offer or period (never done today; still counted right)
                    values = {"offer_id": rng.choice(OFFERS), "period": rng.choice(PERIODS)}
                    await conn.execute(update(matches).where(target).values(**values))
                elif step < 0.9:  # what is said about it changes, not its seat
                    await conn.execute(update(matches).where(target).values(score=rng.random(), updated_at=NOW))
                else:  # erased
                    await conn.execute(delete(matches).where(target))
        kept, counted = await _counts(database)
        assert kept == counted
        assert len(counted) > 3  # several offers and both periods hold seats
    finally:
        await database.dispose()


@pytest.mark.postgres
async def test_offer_seats_follow_the_matches_on_postgresql(new_database: NewDatabase) -> None:
    await _exercise(await new_database("matchmaking"))


async def test_offer_seats_follow_the_matches_on_sqlite(tmp_path: Path) -> None:
    await _exercise(f"sqlite+aiosqlite:///{tmp_path / 'matchmaking.db'}")


def test_the_triggers_count_the_statuses_the_domain_says_hold_a_seat() -> None:
    """The migration writes the statuses out as they were; the domain's set must still be the same (else a new
    migration has to replace the triggers and recount)."""
    assert set(seat_count_migration().HOLDS_SEAT) == {status.value for status in HOLDS_SEAT}
