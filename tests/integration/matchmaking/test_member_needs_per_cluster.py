"""Members belong to one cluster: gaps of another cluster naming a known member are refused (a contract error,
which the consumer dead-letters) and the member's needs stay its own cluster's."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.integration.matchmaking.conftest import deliver, gaps_assessed, skill_gap
from trellis_common.errors import ContractError
from trellis_common.runtime import ServiceRuntime
from trellis_matchmaking.models import member_needs


async def test_gaps_from_another_cluster_cannot_take_over_a_members_needs(matchmaking: ServiceRuntime) -> None:
    await deliver(matchmaking, gaps_assessed("m-1", [skill_gap("digcomp:5.2", 2, 5, 2, 4)], cluster_id="c-a"))
    intruder = gaps_assessed("m-1", [skill_gap("digcomp:1.1", 1, 6, 5, 5)], cluster_id="c-b")
    with pytest.raises(ContractError, match="belongs to another cluster"):
        await deliver(matchmaking, intruder)
    async with matchmaking.db.sessions() as session:
        rows = (await session.execute(select(member_needs.c.member_id, member_needs.c.cluster_id))).all()
    assert [tuple(r) for r in rows] == [("m-1", "c-a")]
    again = gaps_assessed("m-1", [skill_gap("digcomp:5.2", 3, 5, 1, 4)], cluster_id="c-a")
    await deliver(matchmaking, again)  # the member's own cluster still updates it
