"""A matching round: every open gap of the seat period placed again, changes written and announced.

A round runs when a member's gaps arrive and when someone asks for a re-match (after capacity or partner
changes). It re-solves the whole period, because a more severe gap may take a seat that a milder gap only
holds as a proposal; accepted and completed matches keep their seats and their gaps are not placed again.
Members whose proposals changed get a new ``matchmaking.partners.matched`` event (reason ``rematch``);
the member whose gaps started the round always gets one.

Offers' seats are shared by every cluster, so a round always solves the whole period (``Scope.everything()``);
what it reports back to a caller is cut down to the caller's clusters (``RoundResult.seen_by``).
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.auth import Scope
from trellis_common.events import MatchOption, PartnersMatched, PooledOpportunity, ScoreComponent
from trellis_common.logging import get_logger
from trellis_common.unit_of_work import UnitOfWork
from trellis_matchmaking import repository
from trellis_matchmaking.domain.outcomes import MatchStatus
from trellis_matchmaking.domain.partners import MemberNeed
from trellis_matchmaking.domain.periods import period_key
from trellis_matchmaking.domain.plan import MatchPlan, Proposal, plan_matches, sharing
from trellis_matchmaking.domain.pooling import Pool, find_pools
from trellis_matchmaking.domain.scoring import ineligibility
from trellis_matchmaking.models import match_runs, matches
from trellis_matchmaking.settings import MatchmakingSettings

log = get_logger(__name__)


class Reason:
    ASSESSMENT = "assessment"
    REMATCH = "rematch"


@dataclass(frozen=True)
class RoundResult:
    period: str
    # Per cluster: gaps (open gaps placed in this round), proposals_made, proposals_kept, proposals_released,
    # unserved_gaps; kept per cluster so a caller is told only about its own clusters.
    counts: Mapping[str, Counter[str]] = field(default_factory=dict)
    notified: Mapping[str, str] = field(default_factory=dict)  # member id -> its cluster

    def seen_by(self, scope: Scope) -> dict[str, Any]:
        """The round's figures and notified members in the scope's clusters."""
        total: Counter[str] = Counter()
        for cluster_id, counts in self.counts.items():
            if scope.allows(cluster_id):
                total.update(counts)
        return {
            "period": self.period,
            **{name: total[name] for name in FIGURES},
            "notified_members": sorted(m for m, c in self.notified.items() if scope.allows(c)),
        }


FIGURES = ("gaps", "proposals_made", "proposals_kept", "proposals_released", "unserved_gaps")


def current_period(settings: MatchmakingSettings, now: datetime) -> str:
    return period_key(now, settings.seat_period)


async def run_round(
    uow: UnitOfWork, settings: MatchmakingSettings, period: str, notify: Mapping[str, str]
) -> RoundResult:
    """Place every open gap of ``period``; ``notify``: members who get an event in any case, with its reason."""
    session, now, everything = uow.session, uow.now, Scope.everything()
    await repository.lock_period(session, period, now)
    need_rows = {row.member_id: row for row in await repository.need_rows(session, everything, period)}
    needs_by_member = {member_id: repository.to_needs(row) for member_id, row in need_rows.items()}
    seats = await repository.seat_rows(session, everything, period)
    confirmed = repository.confirmed(seats)
    served = {(r.member_id, r.skill_code) for r in confirmed}
    held = {(r.member_id, r.skill_code): r for r in seats if r.status == MatchStatus.PROPOSED}
    all_needs = [need for needs in needs_by_member.values() for need in needs]
    demand = [need for need in all_needs if need.key not in served]
    taken = Counter(r.offer_id for r in confirmed)
    catalogue = [repository.to_offer(row, row.seats - taken[row.id]) for row in await repository.offer_rows(session)]

    # A large period takes a second or two of arithmetic: off the event loop, so the API keeps answering.
    plan = await asyncio.to_thread(
        functools.partial(
            plan_matches,
            demand,
            catalogue,
            held={key: row.offer_id for key, row in held.items()},
            declined=await repository.declined(session, everything, period),
            shared_by=sharing(all_needs),
            options_per_gap=settings.options_per_gap,
            pool_min_members=settings.pool_min_members,
        )
    )

    changed: set[str] = set()
    match_ids: dict[tuple[str, str], str] = {}
    counts: dict[str, Counter[str]] = {}

    def count(cluster_id: str, figure: str, n: int = 1) -> None:
        counts.setdefault(cluster_id, Counter())[figure] += n

    for need in demand:
        count(need.cluster_id, "gaps")
    for index, need in enumerate(plan.needs):
        if plan.seated[index] is None:
            count(need.cluster_id, "unserved_gaps")
        proposal = plan.proposal_for(index)
        old = held.pop(need.key, None)
        if old is not None and proposal is not None and old.offer_id == proposal.offer.offer_id:
            if old.explanation != _explanation_json(proposal) or old.priority != need.gap.priority:
                await _refresh(session, old.id, need, proposal, now)
            match_ids[need.key] = old.id
            count(need.cluster_id, "proposals_kept")
            continue
        if old is not None:
            await _release(session, [old.id], now)
            count(need.cluster_id, "proposals_released")
            changed.add(need.member_id)
        if proposal is not None:
            assessment_id = need_rows[need.member_id].assessment_id
            match_ids[need.key] = await _propose(session, period, assessment_id, need, proposal, now)
            count(need.cluster_id, "proposals_made")
            changed.add(need.member_id)
    if held:  # proposals whose gap closed, was re-assessed away, or was accepted elsewhere
        await _release(session, [row.id for row in held.values()], now)
        for row in held.values():
            count(row.cluster_id, "proposals_released")
        changed.update(row.member_id for row in held.values())

    holders = await repository.seat_rows(session, everything, period)
    pools = find_pools(repository.seat_holders(holders), period=period, min_members=settings.pool_min_members)
    notified = sorted((changed | set(notify)) & set(needs_by_member))
    for member_id in notified:
        await _announce(
            uow,
            need_row=need_rows[member_id],
            period=period,
            reason=notify.get(member_id, Reason.REMATCH),
            needs=needs_by_member[member_id],
            plan=plan,
            match_ids=match_ids,
            confirmed=[r for r in confirmed if r.member_id == member_id],
            pools=[p for p in pools if member_id in p.member_ids],
            holders=holders,
        )
    await repository.finish_round(session, period, now)
    result = RoundResult(period, counts, {m: need_rows[m].cluster_id for m in notified})
    totals = result.seen_by(everything)
    log.info(
        "matching_round",
        period=period,
        gaps=totals["gaps"],
        candidates=plan.candidates,
        made=totals["proposals_made"],
        kept=totals["proposals_kept"],
        released=totals["proposals_released"],
        unserved=totals["unserved_gaps"],
        notified=len(notified),
    )
    return result


def _explanation_json(proposal: Proposal) -> list[dict[str, Any]]:
    return [c.model_dump(mode="json") for c in proposal.explanation]


async def _propose(
    session: AsyncSession, period: str, assessment_id: str, need: MemberNeed, proposal: Proposal, now: datetime
) -> str:
    offer, match_id = proposal.offer, str(uuid.uuid4())
    await session.execute(
        insert(matches).values(
            id=match_id,
            period=period,
            status=MatchStatus.PROPOSED.value,
            cluster_id=need.cluster_id,
            member_id=need.member_id,
            assessment_id=assessment_id,
            skill_code=need.gap.skill_code,
            priority=need.gap.priority,
            offer_id=offer.offer_id,
            partner_id=offer.partner_id,
            partner_name=offer.partner_name,
            partner_type=offer.partner_type,
            offer_title=offer.title,
            format=offer.format.value,
            delivery=offer.delivery.value,
            score=proposal.score,
            explanation=_explanation_json(proposal),
            created_at=now,
            updated_at=now,
        )
    )
    return match_id


async def _refresh(session: AsyncSession, match_id: str, need: MemberNeed, proposal: Proposal, now: datetime) -> None:
    """The proposal stays; its score may have moved (e.g. another member now shares the gap)."""
    await session.execute(
        update(matches)
        .where(matches.c.id == match_id)
        .values(
            priority=need.gap.priority,
            score=proposal.score,
            explanation=_explanation_json(proposal),
            partner_name=proposal.offer.partner_name,
            offer_title=proposal.offer.title,
            updated_at=now,
        )
    )


async def _release(session: AsyncSession, match_ids: Sequence[str], now: datetime) -> None:
    if match_ids:
        await session.execute(
            update(matches)
            .where(matches.c.id.in_(list(match_ids)), matches.c.status == MatchStatus.PROPOSED.value)
            .values(status=MatchStatus.RELEASED.value, updated_at=now)
        )


def _option(rank: int, proposal: Proposal, match_id: str | None) -> MatchOption:
    offer = proposal.offer
    return MatchOption(
        rank=rank,
        skill_code=proposal.need.gap.skill_code,
        partner_id=offer.partner_id,
        partner_name=offer.partner_name,
        partner_type=offer.partner_type,
        offer_id=offer.offer_id,
        offer_title=offer.title,
        format=offer.format.value,
        delivery=offer.delivery.value,
        score=proposal.score,
        explanation=list(proposal.explanation),
        match_id=match_id,
    )


def _confirmed_option(rank: int, row: Row[Any]) -> MatchOption:
    return MatchOption(
        rank=rank,
        skill_code=row.skill_code,
        partner_id=row.partner_id,
        partner_name=row.partner_name,
        partner_type=row.partner_type,
        offer_id=row.offer_id,
        offer_title=row.offer_title,
        format=row.format,
        delivery=row.delivery,
        score=row.score,
        explanation=[ScoreComponent.model_validate(c) for c in row.explanation],
        match_id=row.id,
    )


def member_options(
    needs: Sequence[MemberNeed],
    plan: MatchPlan,
    match_ids: Mapping[tuple[str, str], str],
    confirmed: Iterable[Row[Any]],
) -> list[MatchOption]:
    """The member's options ranked: most severe gap first; per gap its match, then the alternatives."""
    agreed = {r.skill_code: r for r in confirmed}
    placed = {need.key: plan.options[i] for i, need in enumerate(plan.needs)}
    options: list[MatchOption] = []
    for need in sorted(needs, key=lambda n: (-n.gap.priority, n.gap.skill_code)):
        if need.gap.skill_code in agreed:
            options.append(_confirmed_option(len(options) + 1, agreed[need.gap.skill_code]))
            continue
        for proposal in placed.get(need.key, ()):
            match_id = match_ids.get(need.key) if proposal.reserved else None
            options.append(_option(len(options) + 1, proposal, match_id))
    return options


def pooled_opportunities(pools: Iterable[Pool], holders: Iterable[Row[Any]]) -> list[PooledOpportunity]:
    offers = {r.offer_id: r for r in holders}
    return [
        PooledOpportunity(
            pool_id=pool.pool_id,
            skill_code=pool.skill_code,
            partner_id=offers[pool.offer_id].partner_id,
            partner_name=offers[pool.offer_id].partner_name,
            offer_id=pool.offer_id,
            offer_title=offers[pool.offer_id].offer_title,
            member_count=len(pool.member_ids),
            seats=pool.seats,
        )
        for pool in pools
    ]


async def _announce(
    uow: UnitOfWork,
    *,
    need_row: Row[Any],
    period: str,
    reason: str,
    needs: Sequence[MemberNeed],
    plan: MatchPlan,
    match_ids: Mapping[tuple[str, str], str],
    confirmed: Sequence[Row[Any]],
    pools: Sequence[Pool],
    holders: Sequence[Row[Any]],
) -> None:
    row, member_id = need_row, need_row.member_id
    options = member_options(needs, plan, match_ids, confirmed)
    pooled = pooled_opportunities(pools, holders)
    run_id = str(uuid.uuid4())
    await uow.session.execute(
        insert(match_runs).values(
            id=run_id,
            assessment_id=row.assessment_id,
            cluster_id=row.cluster_id,
            member_id=member_id,
            options=[o.model_dump(mode="json") for o in options],
            pooled=[p.model_dump(mode="json") for p in pooled],
            matched_at=uow.now,
            period=period,
            reason=reason,
        )
    )
    uow.emit(
        PartnersMatched(
            match_run_id=run_id,
            assessment_id=row.assessment_id,
            cluster_id=row.cluster_id,
            member_id=member_id,
            options=options,
            pooled=pooled,
            matched_at=uow.now,
            period=period,
            reason=reason,
        )
    )


async def supersede_other_periods(
    session: AsyncSession, scope: Scope, member_id: str, period: str, now: datetime
) -> None:
    """The member's gaps now live in ``period``: its open proposals from other periods lapse."""
    await session.execute(
        update(matches)
        .where(
            scope.clause(matches.c.cluster_id),
            matches.c.member_id == member_id,
            matches.c.period != period,
            matches.c.status == MatchStatus.PROPOSED.value,
        )
        .values(status=MatchStatus.RELEASED.value, updated_at=now)
    )


async def release_unfit(uow: UnitOfWork, scope: Scope, offer_ids: Iterable[str]) -> list[str]:
    """After an offer or its partner changed: release the proposals it can no longer honour (the partner or
    offer is gone, the gap no longer fits the offer, or seats were cut: the mildest gaps go first).

    Returns the members whose proposals were released; a re-match places their gaps again.
    """
    session, now = uow.session, uow.now
    ids = list(offer_ids)
    proposed = (
        await session.execute(
            select(matches)
            .where(
                scope.clause(matches.c.cluster_id),
                matches.c.offer_id.in_(ids),
                matches.c.status == MatchStatus.PROPOSED.value,
            )
            .order_by(matches.c.priority.desc(), matches.c.score.desc(), matches.c.created_at, matches.c.id)
        )
    ).all()
    if not proposed:
        return []
    rows = {row.id: row for row in await repository.offer_rows(session, ids)}
    needs: dict[tuple[str, str], MemberNeed] = {}
    for member_id in {r.member_id for r in proposed}:
        need_row = await repository.need_row(session, scope, member_id)
        if need_row is not None:
            needs.update((n.key, n) for n in repository.to_needs(need_row))
    release: list[Row[Any]] = []
    room: dict[tuple[str, str], int] = {}
    for match in proposed:
        offer_row = rows.get(match.offer_id)
        need = needs.get((match.member_id, match.skill_code))
        if offer_row is None or need is None:
            release.append(match)
            continue
        if ineligibility(need.gap, repository.to_offer(offer_row, seats_left=1), need.profile) is not None:
            release.append(match)
            continue
        key = (match.offer_id, match.period)
        if key not in room:
            taken = await repository.seats_held(session, match.period, [match.offer_id])
            proposals_here = sum(1 for p in proposed if (p.offer_id, p.period) == key)
            room[key] = offer_row.seats - (taken[match.offer_id] - proposals_here)
        if room[key] <= 0:
            release.append(match)
        else:
            room[key] -= 1
    await _release(session, [r.id for r in release], now)
    if release:
        log.info("proposals_released", offers=ids, released=len(release))
    return sorted({r.member_id for r in release})
