"""Reads and writes of the matchmaking tables, and their translation to the domain's types."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.db import insert_for
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
from trellis_matchmaking.models import match_periods, matches, member_needs, offers, partners


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
    """Seats taken per offer in the period: proposals, acceptances and completions."""
    query = (
        select(matches.c.offer_id, func.count())
        .where(matches.c.period == period, matches.c.status.in_([s.value for s in HOLDS_SEAT]))
        .group_by(matches.c.offer_id)
    )
    if offer_ids is not None:
        query = query.where(matches.c.offer_id.in_(list(offer_ids)))
    return Counter({offer_id: int(count) for offer_id, count in (await session.execute(query)).all()})


async def seat_rows(session: AsyncSession, period: str) -> Sequence[Row[Any]]:
    """Every match of the period that holds a seat, in a stable order."""
    return (
        await session.execute(
            select(matches)
            .where(matches.c.period == period, matches.c.status.in_([s.value for s in HOLDS_SEAT]))
            .order_by(matches.c.created_at, matches.c.id)
        )
    ).all()


def seat_holders(rows: Iterable[Row[Any]]) -> list[SeatHolder]:
    return [
        SeatHolder(r.member_id, r.cluster_id, r.skill_code, r.offer_id, OfferFormat(r.format) in GROUP_FORMATS)
        for r in rows
    ]


def confirmed(rows: Iterable[Row[Any]]) -> list[Row[Any]]:
    return [r for r in rows if MatchStatus(r.status) in CONFIRMED]


async def declined(session: AsyncSession, period: str) -> set[tuple[str, str, str]]:
    rows = await session.execute(
        select(matches.c.member_id, matches.c.skill_code, matches.c.offer_id).where(
            matches.c.period == period, matches.c.status == MatchStatus.DECLINED.value
        )
    )
    return {(r.member_id, r.skill_code, r.offer_id) for r in rows}


async def need_rows(session: AsyncSession, period: str) -> Sequence[Row[Any]]:
    return (
        await session.execute(
            select(member_needs).where(member_needs.c.period == period).order_by(member_needs.c.member_id)
        )
    ).all()


async def need_row(session: AsyncSession, member_id: str) -> Row[Any] | None:
    return (await session.execute(select(member_needs).where(member_needs.c.member_id == member_id))).first()


def to_needs(row: Row[Any]) -> list[MemberNeed]:
    profile = MemberProfile.of(MemberContext.model_validate(row.member_context))
    return [MemberNeed(row.member_id, row.cluster_id, SkillGap.model_validate(gap), profile) for gap in row.gaps]


async def save_need(session: AsyncSession, values: Mapping[str, Any]) -> None:
    """Replace the member's needs with those of its latest assessment."""
    statement = insert_for(session, member_needs).values(**values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["member_id"],
            set_={k: statement.excluded[k] for k in values if k != "member_id"},
        )
    )
