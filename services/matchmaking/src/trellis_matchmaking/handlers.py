"""matchmaking consumes skills.gaps.assessed and publishes matchmaking.partners.matched."""

from __future__ import annotations

import hashlib
import uuid

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.consumer import Incoming
from trellis_common.events import GapsAssessed, MatchOption, MemberContext, PartnersMatched, PooledOpportunity
from trellis_common.unit_of_work import UnitOfWork
from trellis_matchmaking.domain.scoring import GROUP_FORMATS, Delivery, Offer, OfferFormat, ineligibility, score
from trellis_matchmaking.models import cluster_demand, match_runs, offers, partners

OPTIONS_PER_GAP = 3


async def load_offers(session: AsyncSession, skill_codes: set[str]) -> list[Offer]:
    rows = await session.execute(
        select(offers, partners.c.name.label("partner_name"), partners.c.partner_type)
        .join(partners, partners.c.id == offers.c.partner_id)
        .where(offers.c.seats_taken < offers.c.seats)
        .order_by(offers.c.id)
    )
    return [
        Offer(
            offer_id=r.id,
            partner_id=r.partner_id,
            partner_name=r.partner_name,
            partner_type=r.partner_type,
            title=r.title,
            skill_codes=frozenset(r.skill_codes),
            max_level=r.max_level,
            format=OfferFormat(r.format),
            delivery=Delivery(r.delivery),
            countries=frozenset(r.countries),
            languages=frozenset(r.languages),
            seats_left=r.seats - r.seats_taken,
        )
        for r in rows
        if skill_codes & set(r.skill_codes)
    ]


def _option(rank: int, skill_code: str, offer: Offer, total: float, explanation: list) -> MatchOption:  # type: ignore[type-arg]
    return MatchOption(
        rank=rank,
        skill_code=skill_code,
        partner_id=offer.partner_id,
        partner_name=offer.partner_name,
        partner_type=offer.partner_type,
        offer_id=offer.offer_id,
        offer_title=offer.title,
        format=offer.format,
        delivery=offer.delivery,
        score=total,
        explanation=explanation,
    )


async def on_gaps_assessed(uow: UnitOfWork, incoming: Incoming) -> None:
    assessed = incoming.require(GapsAssessed)
    session = uow.session
    if await session.scalar(select(match_runs.c.id).where(match_runs.c.assessment_id == assessed.assessment_id)):
        return
    member: MemberContext = assessed.member_context
    catalogue = await load_offers(session, {g.skill_code for g in assessed.gaps})
    seats_left = {o.offer_id: o.seats_left for o in catalogue}

    ranked: list[MatchOption] = []
    for gap in assessed.gaps:  # highest priority first, so severe gaps take contested seats
        candidates = []
        for offer in catalogue:
            live = Offer(**{**vars(offer), "seats_left": seats_left[offer.offer_id]})
            if ineligibility(gap, live, member) is None:
                total, explanation = score(gap, live, member)
                candidates.append((total, offer.offer_id, offer, explanation))
        candidates.sort(key=lambda c: (-c[0], c[1]))
        for total, _, offer, explanation in candidates[:OPTIONS_PER_GAP]:
            ranked.append(_option(1, gap.skill_code, offer, total, explanation))
        if candidates:
            best = candidates[0][2]
            seats_left[best.offer_id] -= 1
            await session.execute(
                update(offers).where(offers.c.id == best.offer_id).values(seats_taken=offers.c.seats_taken + 1)
            )
    ranked.sort(key=lambda o: (-o.score, o.skill_code, o.offer_id))
    options = [o.model_copy(update={"rank": i}) for i, o in enumerate(ranked, start=1)]

    pooled = await _pool(uow, assessed, catalogue, seats_left)
    run_id = str(uuid.uuid4())
    await session.execute(
        insert(match_runs).values(
            id=run_id,
            assessment_id=assessed.assessment_id,
            cluster_id=assessed.cluster_id,
            member_id=assessed.member_id,
            options=[o.model_dump(mode="json") for o in options],
            pooled=[p.model_dump(mode="json") for p in pooled],
            matched_at=uow.now,
        )
    )
    uow.emit(
        PartnersMatched(
            match_run_id=run_id,
            assessment_id=assessed.assessment_id,
            cluster_id=assessed.cluster_id,
            member_id=assessed.member_id,
            options=options,
            pooled=pooled,
            matched_at=uow.now,
        )
    )


async def _pool(
    uow: UnitOfWork, assessed: GapsAssessed, catalogue: list[Offer], seats_left: dict[str, int]
) -> list[PooledOpportunity]:
    """Economies of scale: members of the cluster who share a gap, served together by one group offer."""
    session = uow.session
    await session.execute(
        delete(cluster_demand).where(
            cluster_demand.c.cluster_id == assessed.cluster_id, cluster_demand.c.member_id == assessed.member_id
        )
    )
    if assessed.gaps:
        await session.execute(
            insert(cluster_demand),
            [
                {
                    "cluster_id": assessed.cluster_id,
                    "skill_code": g.skill_code,
                    "member_id": assessed.member_id,
                    "updated_at": uow.now,
                }
                for g in assessed.gaps
            ],
        )
    pooled: list[PooledOpportunity] = []
    for gap in assessed.gaps:
        sharing = (
            await session.scalars(
                select(cluster_demand.c.member_id).where(
                    cluster_demand.c.cluster_id == assessed.cluster_id, cluster_demand.c.skill_code == gap.skill_code
                )
            )
        ).all()
        if len(sharing) < 2:
            continue
        group_offers = [
            o
            for o in catalogue
            if o.format in GROUP_FORMATS and gap.skill_code in o.skill_codes and seats_left[o.offer_id] >= len(sharing)
        ]
        if not group_offers:
            continue
        best = max(group_offers, key=lambda o: (score(gap, o, assessed.member_context)[0], o.offer_id))
        pool_key = f"{assessed.cluster_id}|{gap.skill_code}|{best.offer_id}"
        pooled.append(
            PooledOpportunity(
                pool_id=hashlib.sha256(pool_key.encode()).hexdigest()[:24],
                skill_code=gap.skill_code,
                partner_id=best.partner_id,
                partner_name=best.partner_name,
                offer_id=best.offer_id,
                offer_title=best.title,
                member_count=len(sharing),
                seats=len(sharing),
            )
        )
    return pooled
