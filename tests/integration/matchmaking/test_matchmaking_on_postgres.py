"""Two replicas on one PostgreSQL database never give the same last seat twice (the offer rows are locked)."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, insert, select

from tests.conftest import NewDatabase
from tests.integration.matchmaking.conftest import START, deliver, gaps_assessed, skill_gap
from tests.support.runtime import runtime_for
from trellis_common.bus.memory import InMemoryBus
from trellis_matchmaking.models import matches, member_gaps, partners
from trellis_matchmaking.repositories import registry
from trellis_matchmaking.service import DEFINITION


async def test_concurrent_rounds_on_two_replicas_respect_the_last_seat(new_database: NewDatabase) -> None:
    url = await new_database("matchmaking")
    first = runtime_for(DEFINITION, database_url=url, bus=InMemoryBus(), consume=False, relay=False)
    second = runtime_for(
        DEFINITION, database_url=url, bus=InMemoryBus(), consume=False, relay=False, migrate_on_start=False
    )
    await first.start()
    await second.start()
    try:
        async with first.unit_of_work() as uow:
            await uow.session.execute(
                insert(partners).values(id="p-1", name="TU Danube", partner_type="university", created_at=START)
            )
            await registry.insert_offers(
                uow.session,
                [
                    {
                        "id": "o-1",
                        "partner_id": "p-1",
                        "title": "Data",
                        "skill_codes": ["digcomp:5.2"],
                        "max_level": 6,
                        "format": "masterclass",
                        "delivery": "online",
                        "countries": [],
                        "languages": [],
                        "seats": 1,
                    }
                ],
            )
        members = [f"m-{i}" for i in range(6)]
        await asyncio.gather(
            *(
                deliver(first if i % 2 else second, gaps_assessed(m, [skill_gap("digcomp:5.2", 2, 5, i, 5)]))
                for i, m in enumerate(members)
            )
        )
        async with first.db.sessions() as session:
            held = (
                (await session.execute(select(matches.c.member_id).where(matches.c.status == "proposed")))
                .scalars()
                .all()
            )
            waiting = await session.scalar(
                select(func.count()).select_from(member_gaps).where(member_gaps.c.match_id.is_(None))
            )
        assert len(held) == 1 and held[0] in members, "one seat: given once, whichever replica came first"
        assert waiting == 5, "every other gap waits for a seat"
    finally:
        await second.stop()
        await first.stop()
