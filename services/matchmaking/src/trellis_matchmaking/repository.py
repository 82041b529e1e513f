"""Reads and writes of the matchmaking tables, and their translation to the domain's types.

Matches, members' needs and match runs belong to a cluster: every function reading or changing them takes the
caller's ``Scope`` and filters by it, so a row of another cluster is simply not found. Partners and offers are
a platform-wide directory and carry no cluster.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.auth import Scope
from trellis_common.db import insert_for
from trellis_common.errors import ContractError
from trellis_common.events import MemberContext, SkillGap
from trellis_matchmaking.domain.outcomes import CONFIRMED, HOLDS_SEAT, MatchStatus
from trellis_matchmaking.domain.partners import (
    GROUP_FORMATS,
    Delivery,
    MemberNeed,
    MemberProfile,
    Offer,
    OfferFormat,
    codes,
)
from trellis_matchmaking.domain.pooling import SeatHolder
from trellis_matchmaking.models import match_periods, match_runs, matches, member_needs, offers, partners


async def lock_period(session: AsyncSession, period: str, now: datetime) -> None:
    """Serialise matching rounds of one seat period across replicas (a no-op lock on SQLite, whose writers
    are serialised anyway)."""
    await session.execute(
        insert_for(session, match_periods)
        .values(period=period, rounds=0, solved_at=None)
        .on_conflict_do_nothing(index_elements=["period"])
    )
    await session.execute(select(match_periods.c.period).where(match_periods.c.period == period).with_for_update())


async def finish_round(session: AsyncSession, period: str, now: datetime) -> None:
    await session.execute(
        update(match_periods)
        .where(match_periods.c.period == period)
        .values(rounds=match_periods.c.rounds + 1, solved_at=now)
    )


def _offer_query() -> Any:
    return select(offers, partners.c.name.label("partner_name"), partners.c.partner_type, partners.c.country).join(
        partners, partners.c.id == offers.c.partner_id
    )


async def offer_rows(session: AsyncSession, offer_ids: Iterable[str] | None = None) -> Sequence[Row[Any]]:
    query = _offer_query().order_by(offers.c.id)
    if offer_ids is not None:
        query = query.where(offers.c.id.in_(list(offer_ids)))
    return (await session.execute(query)).all()


def to_offer(row: Row[Any], seats_left: int) -> Offer:
    return Offer(
        offer_id=row.id,
        partner_id=row.partner_id,
        partner_name=row.partner_name,
        partner_type=row.partner_type,
        title=row.title,
        skill_codes=frozenset(row.skill_codes),
        max_level=row.max_level,
        format=OfferFormat(row.format),
        delivery=Delivery(row.delivery),
        countries=codes(row.countries),
        languages=codes(row.languages, upper=False),
        seats_left=seats_left,
        regions=codes(row.regions or []),
        sectors=codes(row.sectors or []),
        target_markets=codes(row.target_markets or []),
        partner_country=row.country.upper() if row.country else None,
    )


async def seats_held(session: AsyncSession, period: str, offer_ids: Iterable[str] | None = None) -> Counter[str]:
    """Seats taken per offer in the period: proposals, acceptances and completions.

    Not scoped on purpose: an offer's seats are shared by every cluster, so its free seats count them all
    (a number per offer, no cluster's rows).
    """
    query = (
        select(matches.c.offer_id, func.count())
        .where(matches.c.period == period, matches.c.status.in_([s.value for s in HOLDS_SEAT]))
        .group_by(matches.c.offer_id)
    )
    if offer_ids is not None:
        query = query.where(matches.c.offer_id.in_(list(offer_ids)))
    return Counter({offer_id: int(count) for offer_id, count in (await session.execute(query)).all()})


async def seat_rows(
    session: AsyncSession, scope: Scope, period: str, *, cluster_id: str | None = None
) -> Sequence[Row[Any]]:
    """Every match of the period that holds a seat, in a stable order."""
    query = select(matches).where(
        scope.clause(matches.c.cluster_id),
        matches.c.period == period,
        matches.c.status.in_([s.value for s in HOLDS_SEAT]),
    )
    if cluster_id is not None:
        query = query.where(matches.c.cluster_id == cluster_id)
    return (await session.execute(query.order_by(matches.c.created_at, matches.c.id))).all()


def seat_holders(rows: Iterable[Row[Any]]) -> list[SeatHolder]:
    return [
        SeatHolder(r.member_id, r.cluster_id, r.skill_code, r.offer_id, OfferFormat(r.format) in GROUP_FORMATS)
        for r in rows
    ]


def confirmed(rows: Iterable[Row[Any]]) -> list[Row[Any]]:
    return [r for r in rows if MatchStatus(r.status) in CONFIRMED]


async def declined(session: AsyncSession, scope: Scope, period: str) -> set[tuple[str, str, str]]:
    rows = await session.execute(
        select(matches.c.member_id, matches.c.skill_code, matches.c.offer_id).where(
            scope.clause(matches.c.cluster_id),
            matches.c.period == period,
            matches.c.status == MatchStatus.DECLINED.value,
        )
    )
    return {(r.member_id, r.skill_code, r.offer_id) for r in rows}


async def need_rows(session: AsyncSession, scope: Scope, period: str) -> Sequence[Row[Any]]:
    query = select(member_needs).where(scope.clause(member_needs.c.cluster_id), member_needs.c.period == period)
    return (await session.execute(query.order_by(member_needs.c.member_id))).all()


async def need_row(session: AsyncSession, scope: Scope, member_id: str) -> Row[Any] | None:
    query = select(member_needs).where(scope.clause(member_needs.c.cluster_id), member_needs.c.member_id == member_id)
    return (await session.execute(query)).first()


def to_needs(row: Row[Any]) -> list[MemberNeed]:
    profile = MemberProfile.of(MemberContext.model_validate(row.member_context))
    return [MemberNeed(row.member_id, row.cluster_id, SkillGap.model_validate(gap), profile) for gap in row.gaps]


async def save_need(session: AsyncSession, scope: Scope, values: Mapping[str, Any]) -> None:
    """Replace the member's needs with those of its latest assessment."""
    if not scope.allows(values["cluster_id"]):
        raise PermissionError(f"cluster {values['cluster_id']!r} is outside the scope of {scope.subject!r}")
    owner = await session.scalar(
        select(member_needs.c.cluster_id).where(member_needs.c.member_id == values["member_id"])
    )
    if owner is not None and owner != values["cluster_id"]:
        # Members belong to one cluster: an event of another cluster naming this member is refused (to the DLQ),
        # never allowed to overwrite or move its needs.
        raise ContractError(f"member {values['member_id']!r} belongs to another cluster")
    statement = insert_for(session, member_needs).values(**values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["member_id"],
            set_={k: statement.excluded[k] for k in values if k != "member_id"},
        )
    )


async def move_needs(session: AsyncSession, scope: Scope, member_id: str, period: str, now: datetime) -> bool:
    """The member's latest gaps become demand of ``period``; False when the scope knows no gaps of the member."""
    moved = await session.execute(
        update(member_needs)
        .where(scope.clause(member_needs.c.cluster_id), member_needs.c.member_id == member_id)
        .values(period=period, updated_at=now)
    )
    return bool(moved.rowcount)  # type: ignore[attr-defined]


# --- matches and match runs as the API shows them -------------------------------------------------------------


async def match_page(
    session: AsyncSession, scope: Scope, where: Sequence[ColumnElement[bool]], *, limit: int, offset: int
) -> tuple[int, list[dict[str, Any]]]:
    """Matches meeting ``where`` in the scope, newest first, and how many there are in all."""
    where = [scope.clause(matches.c.cluster_id), *where]
    total = await session.scalar(select(func.count()).select_from(matches).where(*where))
    query = select(matches).where(*where).order_by(matches.c.created_at.desc(), matches.c.id)
    rows = (await session.execute(query.limit(limit).offset(offset))).mappings()
    return total or 0, [dict(r) for r in rows]


async def match_row(session: AsyncSession, scope: Scope, match_id: str, *, lock: bool = False) -> Row[Any] | None:
    query = select(matches).where(scope.clause(matches.c.cluster_id), matches.c.id == match_id)
    return (await session.execute(query.with_for_update() if lock else query)).first()


async def update_match(session: AsyncSession, scope: Scope, match_id: str, values: Mapping[str, Any]) -> None:
    await session.execute(
        update(matches).where(scope.clause(matches.c.cluster_id), matches.c.id == match_id).values(**values)
    )


async def status_counts(
    session: AsyncSession, scope: Scope, *, cluster_id: str | None, period: str | None
) -> dict[MatchStatus, int]:
    """Matches per status in the scope, of one cluster and period when given (for the conversion figures)."""
    where = [scope.clause(matches.c.cluster_id)]
    if cluster_id:
        where.append(matches.c.cluster_id == cluster_id)
    if period:
        where.append(matches.c.period == period)
    rows = await session.execute(select(matches.c.status, func.count()).where(*where).group_by(matches.c.status))
    return {MatchStatus(s): int(n) for s, n in rows.all()}


async def member_runs(session: AsyncSession, scope: Scope, member_id: str, limit: int) -> list[dict[str, Any]]:
    """The member's match runs in the scope, newest first."""
    query = (
        select(match_runs)
        .where(scope.clause(match_runs.c.cluster_id), match_runs.c.member_id == member_id)
        .order_by(match_runs.c.matched_at.desc(), match_runs.c.id)
        .limit(limit)
    )
    return [dict(r) for r in (await session.execute(query)).mappings()]
