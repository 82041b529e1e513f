"""Matching as gaps arrive: new gaps take free seats, and a proposal once made keeps its seat.

What a placement touches is bounded by the gaps it places, never by the size of the platform: the offers that
cover their skills (found through the skill index, locked in id order so replicas count each seat once), the
seats already taken in those offers, and the placed members' own rows.

The rules (documented in docs/matchmaking.md):

1. **Gaps placed together compete as equals.** The gaps of the assessments handled in one transaction (a
   consumer batch) are placed in one min-cost flow: a contested seat goes to the more severe gap.
2. **A proposal keeps its seat.** A later gap, however severe, never takes a seat that an earlier gap holds
   as a proposal: the member was told, and proposals do not churn. An accepted or completed seat never moves.
   A proposal lapses only when its own member's gaps change (a new assessment, a re-match asked for), when
   the member declines it, or when the offer can no longer serve it (partner or offer removed, seats cut,
   the offer changed).
3. **Freed seats go to the waiting list, most severe first.** A gap that found no free seat waits; when a
   seat frees up (a decline, a lapsed proposal, more seats, a new offer) the waiting gaps that can use it are
   placed, most severe first, together with any gaps placed in the same transaction.

Hence the property (tested): *a gap waits only if every offer it can use is full of seats held by gaps that
are at least as severe, or that held their proposal before it arrived, or that were accepted.*

Seats are shared by every cluster today; the placement never reads a whole period, so replicas scale out by
partition (members are the Kafka key) and only meet on the rows of the offers they both place gaps in.
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.auth import Scope
from trellis_common.events import MatchOption, PartnersMatched, PooledOpportunity, ScoreComponent
from trellis_common.logging import get_logger
from trellis_common.unit_of_work import UnitOfWork
from trellis_matchmaking import repository
from trellis_matchmaking.domain.outcomes import CONFIRMED, MatchStatus
from trellis_matchmaking.domain.partners import GROUP_FORMATS, MemberNeed, Offer, OfferFormat
from trellis_matchmaking.domain.periods import period_key
from trellis_matchmaking.domain.plan import MatchPlan, Proposal, plan_matches
from trellis_matchmaking.domain.pooling import pool_id
from trellis_matchmaking.domain.scoring import ineligibility
from trellis_matchmaking.models import match_runs, matches
from trellis_matchmaking.settings import MatchmakingSettings

log = get_logger(__name__)
EVERYTHING = Scope.everything("matchmaking")  # the service's own work spans every cluster
# A placement of many gaps runs its arithmetic off the event loop, so the API keeps answering meanwhile.
_OFF_LOOP_NEEDS = 200
# Waiting gaps read per page when seats free up: a few per free seat, since some may not fit the offer; a
# page that placed too few makes the next one larger.
_WAITING_PAGE_PER_SEAT = 4
_WAITING_PAGE_MIN = 50
_WAITING_PAGE_MAX = 5000


class Reason:
    ASSESSMENT = "assessment"
    REMATCH = "rematch"


FIGURES = ("gaps", "proposals_made", "proposals_kept", "proposals_released", "unserved_gaps")


@dataclass
class RoundResult:
    period: str
    # Per cluster: gaps (placed in this round), proposals_made, proposals_kept, proposals_released,
    # unserved_gaps; kept per cluster so a caller is told only about its own clusters.
    counts: dict[str, Counter[str]] = field(default_factory=dict)
    notified: dict[str, str] = field(default_factory=dict)  # member id -> its cluster
    placed: set[str] = field(default_factory=set)  # members who got a new proposal
    considered: dict[tuple[str, str], str] = field(default_factory=dict)  # gaps looked at -> their cluster

    def count(self, cluster_id: str, figure: str, n: int = 1) -> None:
        self.counts.setdefault(cluster_id, Counter())[figure] += n

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


def current_period(settings: MatchmakingSettings, now: datetime) -> str:
    return period_key(now, settings.seat_period)


UnitFor = Callable[[str], UnitOfWork]  # the unit of work a member's announcement is emitted in


async def settle(
    uow: UnitOfWork,
    settings: MatchmakingSettings,
    period: str,
    reasons: Mapping[str, str | None],
    *,
    freed: Iterable[str] = (),
    unit_for: UnitFor | None = None,
) -> RoundResult:
    """Settle the seats after the gaps of the members in ``reasons`` changed (member → why they get an event),
    or after the ``freed`` offers changed: every free seat of the offers involved goes to the waiting gaps,
    most severe first (the members' gaps without a seat wait too, so they compete as equals).

    The members' proposals stay where they are while the offer still serves the gap. Every member with a
    reason gets a ``matchmaking.partners.matched`` event; members with ``None`` and members placed from the
    waiting list get one (reason ``rematch``) only when they got a new proposal.
    """
    session, now = uow.session, uow.now
    result = RoundResult(period)
    members = sorted(reasons)
    need_rows = await repository.need_rows(session, EVERYTHING, members)
    seats = await repository.member_seats(session, period, members)
    confirmed = {(r.member_id, r.skill_code): r for r in seats if MatchStatus(r.status) in CONFIRMED}
    proposed = {(r.member_id, r.skill_code): r for r in seats if MatchStatus(r.status) is MatchStatus.PROPOSED}
    needs = {
        need.key: need
        for member_id, rows in _by_member(await repository.gap_rows(session, members)).items()
        if member_id in need_rows
        for need in repository.to_needs(need_rows[member_id], rows)
        if need.key not in confirmed
    }
    skills = {need.gap.skill_code for need in needs.values()}
    offer_ids = set(await repository.offers_for_skills(session, skills)) | set(freed)
    offer_ids |= {row.offer_id for row in proposed.values()}
    locked = {row.id: row for row in await repository.lock_offers(session, offer_ids)}

    # A proposal lapses when its gap is gone, was accepted elsewhere, or the offer no longer serves it.
    lapsed, kept = [], {key: row.id for key, row in confirmed.items()}
    for key, row in proposed.items():
        need, offer = needs.get(key), locked.get(row.offer_id)
        if need is None or offer is None or ineligibility(need.gap, repository.to_offer(offer, 1), need.profile):
            lapsed.append(row.id)
            result.count(row.cluster_id, "proposals_released")
        else:
            kept[key] = row.id
            result.count(row.cluster_id, "proposals_kept")
    await release_matches(session, lapsed, now)
    await repository.seat_gaps(session, kept)  # a new assessment's gaps arrive without their seats

    catalogue = await _catalogue(session, period, locked.values())
    result.considered.update((key, need.cluster_id) for key, need in needs.items())
    await _serve_waiting_list(session, settings, period, catalogue, result, now)
    await _count_gaps(session, result)
    announced = {m: reason for m, reason in reasons.items() if reason}
    announced |= {m: Reason.REMATCH for m in sorted(result.placed) if m not in announced}
    alternatives = await _alternatives(session, settings, period, sorted(announced), catalogue, now)
    await _announce(uow, unit_for, period, announced, alternatives, settings, result)
    figures = result.seen_by(EVERYTHING)
    log.info("matching_round", **figures | {"notified_members": len(figures["notified_members"])})
    return result


async def after_offers_changed(
    uow: UnitOfWork, settings: MatchmakingSettings, scope: Scope, offer_ids: Iterable[str]
) -> RoundResult:
    """After offers were added, changed or removed: release the proposals they can no longer honour, place
    those gaps again (their members hear of it), and give the offers' free seats to the waiting list."""
    ids = sorted(set(offer_ids))
    released = await release_unfit(uow, scope, ids)
    period = current_period(settings, uow.now)
    return await settle(uow, settings, period, dict.fromkeys(released, Reason.REMATCH), freed=ids)


async def serve_waiting_list(
    uow: UnitOfWork, settings: MatchmakingSettings, period: str, offer_ids: Iterable[str]
) -> RoundResult:
    """Give the free seats of ``offer_ids`` (e.g. new offers, or more seats) to the waiting gaps."""
    return await settle(uow, settings, period, {}, freed=offer_ids)


def _by_member(rows: Iterable[Row[Any]]) -> dict[str, list[Row[Any]]]:
    out: dict[str, list[Row[Any]]] = defaultdict(list)
    for row in rows:
        out[row.member_id].append(row)
    return out


async def _catalogue(session: AsyncSession, period: str, rows: Iterable[Row[Any]]) -> dict[str, Offer]:
    """The (locked) offers with the seats they have left in the period."""
    rows = list(rows)
    taken = await repository.seats_held(session, period, [row.id for row in rows])
    return {row.id: repository.to_offer(row, row.seats - taken[row.id]) for row in rows}


async def _plan(
    needs: Sequence[MemberNeed],
    offers: Sequence[Offer],
    *,
    fixed: Mapping[tuple[str, str], str],
    declined: Collection[tuple[str, str, str]],
    shared_by: Mapping[tuple[str, str], int],
    settings: MatchmakingSettings,
) -> MatchPlan:
    solve = functools.partial(
        plan_matches,
        needs,
        offers,
        fixed=fixed,
        declined=declined,
        shared_by=shared_by,
        options_per_gap=settings.options_per_gap,
        pool_min_members=settings.pool_min_members,
    )
    return await asyncio.to_thread(solve) if len(needs) > _OFF_LOOP_NEEDS else solve()


async def _needs_of(
    session: AsyncSession, keys: Collection[tuple[str, str]]
) -> tuple[dict[tuple[str, str], MemberNeed], dict[str, Row[Any]]]:
    """The (member, skill) gaps as the domain sees them, and their members' latest assessments."""
    members = {member_id for member_id, _ in keys}
    need_rows = await repository.need_rows(session, EVERYTHING, members)
    needs = {
        need.key: need
        for member_id, rows in _by_member(await repository.gap_rows(session, members)).items()
        if member_id in need_rows
        for need in repository.to_needs(need_rows[member_id], rows)
        if need.key in keys
    }
    return needs, need_rows


async def _sharing(session: AsyncSession, period: str, needs: Iterable[MemberNeed]) -> dict[tuple[str, str], int]:
    return await repository.sharing(session, period, {(n.cluster_id, n.gap.skill_code) for n in needs})


async def _serve_waiting_list(
    session: AsyncSession,
    settings: MatchmakingSettings,
    period: str,
    catalogue: dict[str, Offer],
    result: RoundResult,
    now: datetime,
) -> set[str]:
    """Give the free seats of ``catalogue`` (locked) to the period's waiting gaps, most severe first, page by
    page; each page is placed in one solve. Returns the members who got a seat; ``catalogue`` is kept up to
    date with the seats left."""
    placed: set[str] = set()
    cursor: tuple[float, str, str] | None = None
    growth = 1
    while True:
        free = {oid: offer for oid, offer in catalogue.items() if offer.seats_left > 0}
        if not free:
            return placed
        page = min(_WAITING_PAGE_MAX, growth * (_WAITING_PAGE_MIN + _WAITING_PAGE_PER_SEAT * len(free)))
        growth *= 2
        skills = {code for offer in free.values() for code in offer.skill_codes}
        rows = await repository.waiting_gaps(session, period, skills, limit=page, after=cursor)
        if not rows:
            return placed
        cursor = rows[-1]
        needs, need_rows = await _needs_of(session, {(member_id, skill) for _, member_id, skill in rows})
        members = set(need_rows)
        result.considered.update((key, need.cluster_id) for key, need in needs.items())
        plan = await _plan(
            list(needs.values()),
            list(free.values()),
            fixed={},
            declined=await repository.declined(session, period, members),
            shared_by=await _sharing(session, period, needs.values()),
            settings=settings,
        )
        new_rows: list[dict[str, Any]] = []
        seat_of: dict[tuple[str, str], str | None] = {}
        for index, need in enumerate(plan.needs):
            proposal = plan.proposal_for(index)
            if proposal is None:
                continue
            row = _match_row(period, need_rows[need.member_id].assessment_id, need, proposal, now)
            new_rows.append(row)
            seat_of[need.key] = row["id"]
            result.count(need.cluster_id, "proposals_made")
            result.placed.add(need.member_id)
            placed.add(need.member_id)
        if new_rows:
            await session.execute(insert(matches), new_rows)
            await repository.seat_gaps(session, seat_of)
        for oid, left in plan.seats_left.items():
            catalogue[oid] = replace(catalogue[oid], seats_left=left)
        if len(rows) < page:
            return placed


async def _count_gaps(session: AsyncSession, result: RoundResult) -> None:
    """The round's gaps figures: how many it looked at, and how many of them still wait for a seat."""
    rows = await repository.gap_rows(session, {member_id for member_id, _ in result.considered})
    waiting = {(r.member_id, r.skill_code) for r in rows if r.match_id is None}
    for key, cluster_id in result.considered.items():
        result.count(cluster_id, "gaps")
        if key in waiting:
            result.count(cluster_id, "unserved_gaps")


Alternatives = dict[tuple[str, str], list[Proposal]]  # per (member, skill): options besides its seat


async def _alternatives(
    session: AsyncSession,
    settings: MatchmakingSettings,
    period: str,
    members: Sequence[str],
    catalogue: Mapping[str, Offer],
    now: datetime,
) -> Alternatives:
    """For the members about to be told: each proposal's fresh score (stored when it moved, e.g. because more
    members now share the gap) and the alternatives that still have a free seat."""
    listed: Alternatives = {}
    if not members:
        return listed
    seats = await repository.member_seats(session, period, members)
    proposals = {(r.member_id, r.skill_code): r for r in seats if MatchStatus(r.status) is MatchStatus.PROPOSED}
    needs, _ = await _needs_of(session, set(proposals))
    offers = dict(catalogue)
    missing = {r.offer_id for r in proposals.values()} - offers.keys()
    for row in await repository.offer_rows(session, missing):  # a kept proposal's offer outside this placement
        offers[row.id] = repository.to_offer(row, 0)
    plan = await _plan(
        list(needs.values()),
        list(offers.values()),
        fixed={key: row.offer_id for key, row in proposals.items()},
        declined=await repository.declined(session, period, members),
        shared_by=await _sharing(session, period, needs.values()),
        settings=settings,
    )
    for index, need in enumerate(plan.needs):
        options = plan.options[index]
        listed[need.key] = [o for o in options if not o.reserved]
        proposal = plan.proposal_for(index)
        old = proposals[need.key]
        if proposal is not None and (
            old.explanation != _explanation_json(proposal) or old.priority != need.gap.priority
        ):
            await _refresh(session, old.id, need, proposal, now)
    return listed


async def release_matches(session: AsyncSession, match_ids: Sequence[str], now: datetime) -> None:
    """Proposals lapse: their seats are free and their gaps wait again (accepted seats are never released)."""
    if not match_ids:
        return
    ids = list(match_ids)
    await session.execute(
        update(matches)
        .where(matches.c.id.in_(ids), matches.c.status == MatchStatus.PROPOSED.value)
        .values(status=MatchStatus.RELEASED.value, updated_at=now)
    )
    await repository.clear_gap_seats(session, ids, now)


def _explanation_json(proposal: Proposal) -> list[dict[str, Any]]:
    return [c.model_dump(mode="json") for c in proposal.explanation]


def _match_row(period: str, assessment_id: str, need: MemberNeed, proposal: Proposal, now: datetime) -> dict[str, Any]:
    offer = proposal.offer
    return {
        "id": str(uuid.uuid4()),
        "period": period,
        "status": MatchStatus.PROPOSED.value,
        "cluster_id": need.cluster_id,
        "member_id": need.member_id,
        "assessment_id": assessment_id,
        "skill_code": need.gap.skill_code,
        "priority": need.gap.priority,
        "offer_id": offer.offer_id,
        "partner_id": offer.partner_id,
        "partner_name": offer.partner_name,
        "partner_type": offer.partner_type,
        "offer_title": offer.title,
        "format": offer.format.value,
        "delivery": offer.delivery.value,
        "score": proposal.score,
        "explanation": _explanation_json(proposal),
        "created_at": now,
        "updated_at": now,
    }


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


def _option(rank: int, proposal: Proposal) -> MatchOption:
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
        match_id=None,
    )


def _seat_option(rank: int, row: Row[Any]) -> MatchOption:
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
    gaps: Sequence[Row[Any]], seats: Mapping[str, Row[Any]], alternatives: Alternatives
) -> list[MatchOption]:
    """The member's options ranked: most severe gap first; per gap its seat, then the alternatives."""
    options: list[MatchOption] = []
    for gap in sorted(gaps, key=lambda g: (-g.priority, g.skill_code)):
        seat = seats.get(gap.skill_code)
        if seat is None:
            continue
        options.append(_seat_option(len(options) + 1, seat))
        for alternative in alternatives.get((gap.member_id, gap.skill_code), ()):
            options.append(_option(len(options) + 1, alternative))
    return options


async def _announce(
    uow: UnitOfWork,
    unit_for: UnitFor | None,
    period: str,
    reasons: Mapping[str, str],
    alternatives: Alternatives,
    settings: MatchmakingSettings,
    result: RoundResult,
) -> None:
    """One ``matchmaking.partners.matched`` event per member, with its options and the pools it is in."""
    if not reasons:
        return
    session = uow.session
    members = sorted(reasons)
    need_rows = await repository.need_rows(session, EVERYTHING, members)
    gaps = _by_member(await repository.gap_rows(session, members))
    seats = _by_member(await repository.member_seats(session, period, members))
    pools = await _pools(session, period, need_rows, seats, settings)
    runs: list[dict[str, Any]] = []
    for member_id in members:
        need = need_rows.get(member_id)
        if need is None:
            continue
        held = {row.skill_code: row for row in seats.get(member_id, ())}
        options = member_options(gaps.get(member_id, []), held, alternatives)
        pooled = pools.get(member_id, [])
        run_id = str(uuid.uuid4())
        runs.append(
            {
                "id": run_id,
                "assessment_id": need.assessment_id,
                "cluster_id": need.cluster_id,
                "member_id": member_id,
                "options": [o.model_dump(mode="json") for o in options],
                "pooled": [p.model_dump(mode="json") for p in pooled],
                "matched_at": uow.now,
                "period": period,
                "reason": reasons[member_id],
            }
        )
        (unit_for(member_id) if unit_for else uow).emit(
            PartnersMatched(
                match_run_id=run_id,
                assessment_id=need.assessment_id,
                cluster_id=need.cluster_id,
                member_id=member_id,
                options=options,
                pooled=pooled,
                matched_at=uow.now,
                period=period,
                reason=reasons[member_id],
            )
        )
        result.notified[member_id] = need.cluster_id
    if runs:
        await session.execute(insert(match_runs), runs)


async def _pools(
    session: AsyncSession,
    period: str,
    need_rows: Mapping[str, Row[Any]],
    seats: Mapping[str, Sequence[Row[Any]]],
    settings: MatchmakingSettings,
) -> dict[str, list[PooledOpportunity]]:
    """Per member: the group offers it shares with others of its cluster for the same gap (one read per cluster)."""
    group_seats: dict[str, list[Row[Any]]] = defaultdict(list)  # per cluster
    for member_id, rows in seats.items():
        need = need_rows.get(member_id)
        if need is not None:
            group_seats[need.cluster_id].extend(r for r in rows if OfferFormat(r.format) in GROUP_FORMATS)
    least = max(2, settings.pool_min_members)
    out: dict[str, list[PooledOpportunity]] = defaultdict(list)
    for cluster_id, rows in group_seats.items():
        sharing = await repository.sharers(session, period, cluster_id, {(r.offer_id, r.skill_code) for r in rows})
        for row in rows:
            members = sorted(set(sharing.get((row.offer_id, row.skill_code), ())))
            if len(members) < least:
                continue
            out[row.member_id].append(
                PooledOpportunity(
                    pool_id=pool_id(period, cluster_id, row.skill_code, row.offer_id),
                    skill_code=row.skill_code,
                    partner_id=row.partner_id,
                    partner_name=row.partner_name,
                    offer_id=row.offer_id,
                    offer_title=row.offer_title,
                    member_count=len(members),
                    seats=len(members),  # one seat per member organisation
                )
            )
    return out


async def supersede_other_periods(session: AsyncSession, member_ids: Iterable[str], period: str, now: datetime) -> None:
    """The members' gaps now live in ``period``: their open proposals from other periods lapse."""
    stale = await repository.member_proposals_elsewhere(session, member_ids, period)
    await release_matches(session, stale, now)


async def release_unfit(uow: UnitOfWork, scope: Scope, offer_ids: Iterable[str]) -> list[str]:
    """After an offer or its partner changed: release the proposals it can no longer honour (the partner or
    offer is gone, the gap no longer fits the offer, or seats were cut: the mildest gaps go first).

    Returns the members whose proposals were released; ``settle`` places their gaps again.
    """
    session, now = uow.session, uow.now
    ids = sorted(set(offer_ids))
    rows = {row.id: row for row in await repository.lock_offers(session, ids)}
    proposed = await repository.proposals_in(session, scope, ids)
    if not proposed:
        return []
    needs: dict[tuple[str, str], MemberNeed] = {}
    members = {r.member_id for r in proposed}
    need_rows = await repository.need_rows(session, scope, members)
    for member_id, gap_rows in _by_member(await repository.gap_rows(session, members)).items():
        if member_id in need_rows:
            needs.update((n.key, n) for n in repository.to_needs(need_rows[member_id], gap_rows))
    release: list[Row[Any]] = []
    room: dict[tuple[str, str], int] = {}
    for match in proposed:  # most severe first: a cut releases the mildest
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
    await release_matches(session, [r.id for r in release], now)
    if release:
        log.info("proposals_released", offers=ids, released=len(release))
    return sorted({r.member_id for r in release})
