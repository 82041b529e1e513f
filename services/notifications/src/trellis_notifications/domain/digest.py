"""The weekly digest of matches: when it is due, and what one email says about a week of match runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from trellis_common.events import MatchOption, PartnersMatched, PooledOpportunity

WEEK = timedelta(days=7)


def _local_slot(day: date, hour: int, zone: ZoneInfo) -> datetime:
    # A wall-clock hour that a DST change skips resolves to the hour after the jump, never to no time at all.
    return datetime.combine(day, time(hour), tzinfo=zone).astimezone(UTC)


def digest_due_at(now: datetime, *, weekday: int, hour: int, zone: ZoneInfo) -> datetime:
    """The latest weekly digest time at or before ``now`` (``weekday`` 0 = Monday, ``hour`` in ``zone``)."""
    if not 0 <= weekday <= 6 or not 0 <= hour <= 23:
        raise ValueError("weekday must be 0-6 and hour 0-23")
    local_today = now.astimezone(zone).date()
    day = local_today - timedelta(days=(local_today.weekday() - weekday) % 7)
    due = _local_slot(day, hour, zone)
    if due > now:
        due = _local_slot(day - WEEK, hour, zone)
    return due


def next_digest_at(now: datetime, *, weekday: int, hour: int, zone: ZoneInfo) -> datetime:
    """The first weekly digest time strictly after ``now``."""
    last = digest_due_at(now, weekday=weekday, hour=hour, zone=zone)
    return _local_slot(last.astimezone(zone).date() + WEEK, hour, zone)


@dataclass(frozen=True)
class DigestProposal:
    """One offer for one skill, however many match runs of the week proposed it."""

    option: MatchOption
    times_proposed: int


@dataclass(frozen=True)
class MatchesDigest:
    period_start: datetime
    period_end: datetime
    runs: int
    proposals: list[DigestProposal]
    pooled: list[PooledOpportunity]


def collect_digest(runs: list[PartnersMatched], period_start: datetime, period_end: datetime) -> MatchesDigest:
    """A week of match runs as one list: each (offer, skill) once with its best score, best first.

    Later runs supersede earlier ones for pooled opportunities (the member count grows as members join).
    """
    best: dict[tuple[str, str], MatchOption] = {}
    counts: dict[tuple[str, str], int] = {}
    pooled: dict[str, PooledOpportunity] = {}
    for run in sorted(runs, key=lambda r: (r.matched_at, r.match_run_id)):
        for option in run.options:
            key = (option.offer_id, option.skill_code)
            counts[key] = counts.get(key, 0) + 1
            if key not in best or option.score > best[key].score:
                best[key] = option
        for pool in run.pooled:
            pooled[pool.pool_id] = pool
    ordered = sorted(best.items(), key=lambda kv: (-kv[1].score, kv[1].offer_title, kv[0]))
    proposals = [DigestProposal(option, counts[key]) for key, option in ordered]
    return MatchesDigest(
        period_start=period_start,
        period_end=period_end,
        runs=len(runs),
        proposals=proposals,
        pooled=sorted(pooled.values(), key=lambda p: (-p.member_count, p.offer_title, p.pool_id)),
    )
