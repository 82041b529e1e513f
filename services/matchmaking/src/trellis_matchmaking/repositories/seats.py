"""The matches that hold a seat (proposed, accepted, completed) or once did, as matching and pooling read them.

Seat counts are per offer and not scoped: an offer's seats may be held by members of several clusters (a shared
or an open offer). What a caller reads of the matches themselves is filtered by its ``Scope``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Row, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.auth import Scope
from trellis_common.repositories.in_list import in_list
from trellis_matchmaking.domain.outcomes import CONFIRMED, HOLDS_SEAT, MatchStatus
from trellis_matchmaking.domain.partners import GROUP_FORMATS, OfferFormat
from trellis_matchmaking.domain.pooling import SeatHolder
from trellis_matchmaking.models import matches, offer_seats


async def seats_held(session: AsyncSession, period: str, offer_ids: Iterable[str] | None = None) -> Counter[str]:
    """Seats taken per offer in the period: proposals, acceptances and completions.

    Read from ``offer_seats``, which triggers on ``matches`` keep (one row per offer, however many seats it has
    given). Not scoped on purpose: an offer's seats may be held by members of several clusters (a shared or an
    open offer), so its free seats count them all (a number per offer, no cluster's rows).
    """
    query = select(offer_seats.c.offer_id, offer_seats.c.held).where(offer_seats.c.period == period)
    if offer_ids is not None:
        query = query.where(in_list(offer_seats.c.offer_id, list(offer_ids)))
    return Counter({offer_id: int(held) for offer_id, held in (await session.execute(query)).all() if held})


async def seats_accepted(session: AsyncSession, offer_id: str, period: str) -> int:
    """How many members accepted (or completed) a seat of the offer in the period: the fewest seats it may have."""
    accepted = await session.scalar(
        select(func.count()).where(
            matches.c.offer_id == offer_id,
            matches.c.period == period,
            matches.c.status.in_([s.value for s in CONFIRMED]),
        )
    )
    return accepted or 0


_SEAT_COLUMNS = [
    matches.c[name]
    for name in (
        "member_id", "cluster_id", "skill_code", "offer_id", "format", "status", "partner_id", "partner_name",
        "offer_title",
    )
]  # fmt: skip


async def seat_rows(
    session: AsyncSession, scope: Scope, period: str, *, cluster_id: str | None = None
) -> Sequence[Row[Any]]:
    """Every match of the period that holds a seat, in a stable order: the columns pooling reads (not the
    explanations, whose JSON would be decoded for nothing)."""
    query = select(*_SEAT_COLUMNS).where(
        scope.clause(matches.c.cluster_id),
        matches.c.period == period,
        matches.c.status.in_([s.value for s in HOLDS_SEAT]),
    )
    if cluster_id is not None:
        query = query.where(matches.c.cluster_id == cluster_id)
    return (await session.execute(query.order_by(matches.c.created_at, matches.c.id))).all()


async def largest_pool_rows(
    session: AsyncSession, scope: Scope, period: str, *, cluster_id: str, min_members: int, limit: int
) -> Sequence[Row[Any]]:
    """The seat rows of the cluster's ``limit`` largest pools only: the pools are counted in the database, so a
    period of thousands of seats is not read to show a few of them."""
    holding = [
        scope.clause(matches.c.cluster_id),
        matches.c.cluster_id == cluster_id,
        matches.c.period == period,
        matches.c.status.in_([s.value for s in HOLDS_SEAT]),
        matches.c.format.in_(sorted(f.value for f in GROUP_FORMATS)),
    ]
    members = func.count(matches.c.member_id.distinct())
    largest = (
        select(matches.c.skill_code, matches.c.offer_id)
        .where(*holding)
        .group_by(matches.c.skill_code, matches.c.offer_id)
        .having(members >= max(2, min_members))
        .order_by(members.desc(), matches.c.skill_code, matches.c.offer_id)
        .limit(limit)
    )
    pairs = [(str(skill), str(offer)) for skill, offer in (await session.execute(largest)).all()]
    if not pairs:
        return []
    query = select(*_SEAT_COLUMNS).where(*holding, tuple_(matches.c.skill_code, matches.c.offer_id).in_(pairs))
    return (await session.execute(query.order_by(matches.c.created_at, matches.c.id))).all()


def seat_holders(rows: Iterable[Row[Any]]) -> list[SeatHolder]:
    return [
        SeatHolder(r.member_id, r.cluster_id, r.skill_code, r.offer_id, OfferFormat(r.format) in GROUP_FORMATS)
        for r in rows
    ]


async def member_seats(session: AsyncSession, period: str, member_ids: Iterable[str]) -> list[Row[Any]]:
    """The members' matches of the period that hold a seat."""
    query = select(matches).where(
        in_list(matches.c.member_id, sorted(set(member_ids))),
        matches.c.period == period,
        matches.c.status.in_([s.value for s in HOLDS_SEAT]),
    )
    return list((await session.execute(query.order_by(matches.c.created_at, matches.c.id))).all())


async def sharers(
    session: AsyncSession, period: str, cluster_id: str, pairs: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], list[str]]:
    """Per (offer, skill) pair: the members of one cluster holding a seat there (who share a group offer)."""
    wanted = set(pairs)
    if not wanted:
        return {}
    query = select(matches.c.offer_id, matches.c.skill_code, matches.c.member_id).where(
        in_list(matches.c.offer_id, sorted({o for o, _ in wanted})),
        matches.c.period == period,
        matches.c.status.in_([s.value for s in HOLDS_SEAT]),
        matches.c.cluster_id == cluster_id,
        in_list(matches.c.skill_code, sorted({s for _, s in wanted})),
    )
    out: dict[tuple[str, str], list[str]] = {}
    for offer_id, skill_code, member_id in (await session.execute(query)).all():
        if (offer_id, skill_code) in wanted:
            out.setdefault((offer_id, skill_code), []).append(member_id)
    return out


async def member_proposals_elsewhere(session: AsyncSession, member_ids: Iterable[str], period: str) -> list[str]:
    """Ids of the members' open proposals in periods other than ``period``."""
    query = select(matches.c.id).where(
        in_list(matches.c.member_id, sorted(set(member_ids))),
        matches.c.period != period,
        matches.c.status == MatchStatus.PROPOSED.value,
    )
    return list((await session.scalars(query)).all())


async def proposals_in(session: AsyncSession, scope: Scope, offer_ids: Iterable[str]) -> list[Row[Any]]:
    """Open proposals of the offers, most severe gap first (a seat cut releases from the end)."""
    query = (
        select(matches)
        .where(
            scope.clause(matches.c.cluster_id),
            in_list(matches.c.offer_id, sorted(set(offer_ids))),
            matches.c.status == MatchStatus.PROPOSED.value,
        )
        .order_by(matches.c.priority.desc(), matches.c.score.desc(), matches.c.created_at, matches.c.id)
    )
    return list((await session.execute(query)).all())


async def declined(session: AsyncSession, period: str, member_ids: Iterable[str]) -> set[tuple[str, str, str]]:
    """(member, skill, offer) proposals the members turned down in the period."""
    rows = await session.execute(
        select(matches.c.member_id, matches.c.skill_code, matches.c.offer_id).where(
            in_list(matches.c.member_id, sorted(set(member_ids))),
            matches.c.period == period,
            matches.c.status == MatchStatus.DECLINED.value,
        )
    )
    return {(r.member_id, r.skill_code, r.offer_id) for r in rows}
