"""The weekly digest: when it is due (any time zone, across daylight saving) and what it lists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trellis_common.events import MatchOption, PartnersMatched, PooledOpportunity
from trellis_notifications.domain.digest import collect_digest, digest_due_at, next_digest_at

BRUSSELS = ZoneInfo("Europe/Brussels")
ZONES = [ZoneInfo(z) for z in ("Europe/Brussels", "Europe/Lisbon", "Europe/Helsinki", "America/New_York", "UTC")]


def test_monday_eight_in_brussels() -> None:
    tuesday = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)
    assert digest_due_at(tuesday, weekday=0, hour=8, zone=BRUSSELS) == datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
    assert next_digest_at(tuesday, weekday=0, hour=8, zone=BRUSSELS) == datetime(2026, 3, 9, 7, 0, tzinfo=UTC)


def test_the_due_moment_itself_is_due() -> None:
    due = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
    assert digest_due_at(due, weekday=0, hour=8, zone=BRUSSELS) == due
    assert digest_due_at(due - timedelta(seconds=1), weekday=0, hour=8, zone=BRUSSELS) == due - timedelta(days=7)


def test_daylight_saving_keeps_the_wall_clock_hour() -> None:
    # Summer time starts on Sunday 29 March 2026 in Brussels: Monday 08:00 is 07:00 UTC before, 06:00 after.
    before = digest_due_at(datetime(2026, 3, 28, tzinfo=UTC), weekday=0, hour=8, zone=BRUSSELS)
    after = next_digest_at(datetime(2026, 3, 28, tzinfo=UTC), weekday=0, hour=8, zone=BRUSSELS)
    assert before == datetime(2026, 3, 23, 7, 0, tzinfo=UTC)
    assert after == datetime(2026, 3, 30, 6, 0, tzinfo=UTC)
    assert after - before == timedelta(days=7, hours=-1)


@pytest.mark.parametrize(("weekday", "hour"), [(7, 8), (0, 24), (-1, 0)])
def test_impossible_slots_are_refused(weekday: int, hour: int) -> None:
    with pytest.raises(ValueError):
        digest_due_at(datetime(2026, 3, 3, tzinfo=UTC), weekday=weekday, hour=hour, zone=BRUSSELS)


@given(
    now=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
    weekday=st.integers(min_value=0, max_value=6),
    hour=st.integers(min_value=0, max_value=23),
    zone=st.sampled_from(ZONES),
)
def test_the_last_digest_is_at_or_before_now_and_the_next_after_it(
    now: datetime, weekday: int, hour: int, zone: ZoneInfo
) -> None:
    last = digest_due_at(now, weekday=weekday, hour=hour, zone=zone)
    following = next_digest_at(now, weekday=weekday, hour=hour, zone=zone)
    assert last <= now < following
    assert timedelta(days=7, hours=-1) <= following - last <= timedelta(days=7, hours=1)  # a DST week
    local = last.astimezone(zone)
    assert local.weekday() == weekday
    assert local.hour in (hour, (hour + 1) % 24)  # an hour a DST jump skips becomes the one after it
    assert digest_due_at(following, weekday=weekday, hour=hour, zone=zone) == following


def option(offer: str, skill: str, score: float, rank: int = 1) -> MatchOption:
    return MatchOption(
        rank=rank,
        skill_code=skill,
        partner_id="p",
        partner_name="Partner",
        partner_type="university",
        offer_id=offer,
        offer_title=f"Offer {offer}",
        format="training",
        delivery="online",
        score=score,
        explanation=[],
    )


def run(run_id: str, day: int, *options: MatchOption, pooled: list[PooledOpportunity] | None = None) -> PartnersMatched:
    return PartnersMatched(
        match_run_id=run_id,
        assessment_id="a",
        cluster_id="c",
        member_id="m",
        options=list(options),
        pooled=pooled or [],
        matched_at=datetime(2026, 3, day, tzinfo=UTC),
    )


def pool(member_count: int) -> PooledOpportunity:
    return PooledOpportunity(
        pool_id="pool-1",
        skill_code="digcomp:4.2",
        partner_id="p",
        partner_name="Partner",
        offer_id="o1",
        offer_title="Offer o1",
        member_count=member_count,
        seats=10,
    )


def test_a_week_of_runs_becomes_one_list_best_first() -> None:
    end = datetime(2026, 3, 9, 7, tzinfo=UTC)
    digest = collect_digest(
        [
            run("r2", 5, option("o1", "digcomp:4.2", 0.9), option("o3", "digcomp:1.2", 0.4), pooled=[pool(4)]),
            run("r1", 3, option("o1", "digcomp:4.2", 0.7), option("o2", "digcomp:5.2", 0.8), pooled=[pool(3)]),
        ],
        end - timedelta(days=7),
        end,
    )
    assert digest.runs == 2
    assert [(p.option.offer_id, p.option.score, p.times_proposed) for p in digest.proposals] == [
        ("o1", 0.9, 2),
        ("o2", 0.8, 1),
        ("o3", 0.4, 1),
    ]
    assert [p.member_count for p in digest.pooled] == [4]  # the later run's pool supersedes


@given(
    st.lists(
        st.lists(
            st.tuples(st.sampled_from(["o1", "o2", "o3"]), st.sampled_from(["s1", "s2"]), st.floats(0, 1)),
            min_size=1,
            max_size=5,
        ),
        min_size=1,
        max_size=6,
    )
)
def test_each_offer_and_skill_appears_once_with_its_best_score(runs: list[list[tuple[str, str, float]]]) -> None:
    matches = [run(f"r{i}", 2 + i, *(option(o, s, score) for o, s, score in opts)) for i, opts in enumerate(runs)]
    end = datetime(2026, 3, 9, tzinfo=UTC)
    digest = collect_digest(matches, end - timedelta(days=7), end)
    keys = [(p.option.offer_id, p.option.skill_code) for p in digest.proposals]
    assert len(keys) == len(set(keys))
    for offer, skill in keys:
        scores = [sc for opts in runs for o, s, sc in opts if (o, s) == (offer, skill)]
        proposal = next(p for p in digest.proposals if (p.option.offer_id, p.option.skill_code) == (offer, skill))
        assert proposal.option.score == max(scores) and proposal.times_proposed == len(scores)
    assert [p.option.score for p in digest.proposals] == sorted(
        (p.option.score for p in digest.proposals), reverse=True
    )
