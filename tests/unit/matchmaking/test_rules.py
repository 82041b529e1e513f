"""Seat periods, outcomes and the conversion rate, pools."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from trellis_matchmaking.domain.outcomes import (
    MatchStatus,
    Outcome,
    OutcomeNotAllowed,
    conversion,
    next_status,
)
from trellis_matchmaking.domain.periods import SeatPeriod, period_key
from trellis_matchmaking.domain.pooling import SeatHolder, find_pools, pool_id


@pytest.mark.parametrize(
    ("period", "key"),
    [
        (SeatPeriod.MONTH, "2026-08"),
        (SeatPeriod.QUARTER, "2026-Q3"),
        (SeatPeriod.HALF_YEAR, "2026-H2"),
        (SeatPeriod.YEAR, "2026"),
    ],
)
def test_period_keys(period: SeatPeriod, key: str) -> None:
    assert period_key(datetime(2026, 8, 31, 23, 30, tzinfo=UTC), period) == key


def test_period_keys_are_taken_in_utc() -> None:
    from zoneinfo import ZoneInfo

    moment = datetime(2026, 4, 1, 1, 0, tzinfo=ZoneInfo("Europe/Vienna"))  # still 31 March in UTC
    assert period_key(moment, SeatPeriod.QUARTER) == "2026-Q1"


def test_outcomes_follow_the_match() -> None:
    assert next_status(MatchStatus.PROPOSED, Outcome.ACCEPTED) is MatchStatus.ACCEPTED
    assert next_status(MatchStatus.ACCEPTED, Outcome.COMPLETED) is MatchStatus.COMPLETED
    assert next_status(MatchStatus.ACCEPTED, Outcome.DECLINED) is MatchStatus.DECLINED
    assert next_status(MatchStatus.ACCEPTED, Outcome.ACCEPTED) is MatchStatus.ACCEPTED, "recording twice is harmless"
    for status, outcome in [
        (MatchStatus.DECLINED, Outcome.ACCEPTED),
        (MatchStatus.COMPLETED, Outcome.DECLINED),
        (MatchStatus.RELEASED, Outcome.ACCEPTED),
    ]:
        with pytest.raises(OutcomeNotAllowed):
            next_status(status, outcome)


def test_the_funnel_is_our_own_and_compared_with_nothing_else() -> None:
    figures = conversion(
        {
            MatchStatus.ACCEPTED: 2,
            MatchStatus.COMPLETED: 1,
            MatchStatus.DECLINED: 7,
            MatchStatus.PROPOSED: 5,
            MatchStatus.RELEASED: 4,
        }
    )
    assert (figures.agreements, figures.answered, figures.proposals) == (3, 10, 15)
    assert figures.rate == 0.3 and figures.share_of_proposals == 0.2
    assert figures.completion_rate == 0.3333  # 1 of the 3 agreements completed
    assert not any("eccp" in name for name in vars(figures)), "ECCP counts meetings, not seats taken up"
    empty = conversion({})
    assert (empty.rate, empty.share_of_proposals, empty.completion_rate) == (None, None, None)


def test_pools_are_members_of_one_cluster_in_one_group_offer() -> None:
    holders = [
        SeatHolder("m-1", "c-1", "digcomp:5.2", "o-1", True),
        SeatHolder("m-2", "c-1", "digcomp:5.2", "o-1", True),
        SeatHolder("m-3", "c-2", "digcomp:5.2", "o-1", True),  # another cluster
        SeatHolder("m-4", "c-1", "digcomp:4.1", "o-1", True),  # another gap
        SeatHolder("m-5", "c-1", "digcomp:5.2", "o-2", False),  # coaching: one at a time
        SeatHolder("m-6", "c-1", "digcomp:5.2", "o-2", False),
    ]
    (pool,) = find_pools(holders, period="2026-Q1", min_members=2)
    assert (pool.cluster_id, pool.skill_code, pool.offer_id, pool.member_ids, pool.seats) == (
        "c-1",
        "digcomp:5.2",
        "o-1",
        ("m-1", "m-2"),
        2,
    )
    assert pool.pool_id == pool_id("2026-Q1", "c-1", "digcomp:5.2", "o-1")
    assert find_pools(holders, period="2026-Q1", min_members=3) == []
