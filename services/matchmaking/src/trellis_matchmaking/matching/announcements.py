"""What members are told: one ``matchmaking.partners.matched`` event each, with their options and pools."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from trellis_common.events import MatchOption, PartnersMatched, PooledOpportunity
from trellis_common.unit_of_work import UnitOfWork
from trellis_matchmaking.domain.partners import GROUP_FORMATS, MemberNeed, Offer, OfferFormat
from trellis_matchmaking.domain.plan import Proposal
from trellis_matchmaking.domain.pooling import pool_id
from trellis_matchmaking.matching.ledger import Ledger
from trellis_matchmaking.matching.solving import explanation_from_json, explanation_json, solve
from trellis_matchmaking.reply_links import ReplyLink, reply_links
from trellis_matchmaking.repositories import proposals, registry, seats
from trellis_matchmaking.settings import MatchmakingSettings

UnitFor = Callable[[str], UnitOfWork]  # the unit of work a member's announcement is emitted in
Alternatives = dict[tuple[str, str], list[Proposal]]  # per (member, skill): options besides its seat


async def alternatives_for(
    uow: UnitOfWork,
    settings: MatchmakingSettings,
    ledger: Ledger,
    members: Sequence[str],
    catalogue: Mapping[str, Offer],
) -> Alternatives:
    """For the members about to be told: each proposal's fresh score (stored when it moved, e.g. because more
    members now share the gap) and the alternatives that still have a free seat."""
    session = uow.session
    proposed = {(m, s): match for m in members for s, match in ledger.proposals(m).items()}
    if not proposed:
        return {}
    needs = [n for m in members for n in ledger.needs.get(m, []) if n.key in proposed]
    offers = dict(catalogue)
    missing = {match["offer_id"] for match in proposed.values()} - offers.keys()
    for row in await registry.offer_rows(session, missing) if missing else ():  # a kept proposal's offer elsewhere
        offers[row.id] = registry.to_offer(row, 0)
    plan = await solve(
        ledger,
        settings,
        needs,
        list(offers.values()),
        fixed={key: match["offer_id"] for key, match in proposed.items()},
    )
    listed: Alternatives = {}
    for index, need in enumerate(plan.needs):
        listed[need.key] = [o for o in plan.options[index] if not o.reserved]
        proposal = plan.proposal_for(index)
        old = proposed[need.key]
        if proposal is not None and (
            old["explanation"] != explanation_json(proposal) or old["priority"] != need.gap.priority
        ):
            await _refresh(uow, old, need, proposal)
            ledger.add(
                {
                    **old,
                    "priority": need.gap.priority,
                    "score": proposal.score,
                    "explanation": explanation_json(proposal),
                }
            )
    return listed


async def _refresh(uow: UnitOfWork, match: Mapping[str, Any], need: MemberNeed, proposal: Proposal) -> None:
    """The proposal stays; its score may have moved (e.g. another member now shares the gap)."""
    values = {
        "priority": need.gap.priority,
        "score": proposal.score,
        "explanation": explanation_json(proposal),
        "partner_name": proposal.offer.partner_name,
        "offer_title": proposal.offer.title,
        "updated_at": uow.now,
    }
    await proposals.refresh_proposal(uow.session, match["id"], values)


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


def _seat_option(rank: int, match: Mapping[str, Any], reply_link: ReplyLink | None) -> MatchOption:
    return MatchOption(
        rank=rank,
        skill_code=match["skill_code"],
        partner_id=match["partner_id"],
        partner_name=match["partner_name"],
        partner_type=match["partner_type"],
        offer_id=match["offer_id"],
        offer_title=match["offer_title"],
        format=match["format"],
        delivery=match["delivery"],
        score=match["score"],
        explanation=explanation_from_json(match["explanation"]),
        match_id=match["id"],
        reply_link=reply_link(match["id"]) if reply_link else None,
    )


def _without_link(option: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in option.items() if name != "reply_link"}


def member_options(
    needs: Sequence[MemberNeed],
    seats: Mapping[str, Mapping[str, Any]],
    alternatives: Alternatives,
    reply_link: ReplyLink | None = None,
) -> list[MatchOption]:
    """The member's options ranked: most severe gap first; per gap its seat (with the link the member answers
    it by), then the alternatives."""
    options: list[MatchOption] = []
    for need in sorted(needs, key=lambda n: (-n.gap.priority, n.gap.skill_code)):
        seat = seats.get(need.gap.skill_code)
        if seat is None:
            continue
        options.append(_seat_option(len(options) + 1, seat, reply_link))
        for alternative in alternatives.get(need.key, ()):
            options.append(_option(len(options) + 1, alternative))
    return options


async def announce(
    uow: UnitOfWork,
    unit_for: UnitFor | None,
    ledger: Ledger,
    reasons: Mapping[str, str],
    alternatives: Alternatives,
    settings: MatchmakingSettings,
) -> dict[str, str]:
    """One ``matchmaking.partners.matched`` event per member (emitted in its own unit of work when
    ``unit_for`` names one); returns the members told, with their cluster."""
    told: dict[str, str] = {}
    if not reasons:
        return told
    period = ledger.period
    members = sorted(m for m in reasons if m in ledger.assessments)
    pools = await _pools(uow, ledger, members, settings)
    reply_link = reply_links(settings, uow.now)
    runs: list[dict[str, Any]] = []
    for member_id in members:
        need = ledger.assessments[member_id]
        options = member_options(
            ledger.needs.get(member_id, []), ledger.seats.get(member_id, {}), alternatives, reply_link
        )
        pooled = pools.get(member_id, [])
        run_id = str(uuid.uuid4())
        event = (unit_for(member_id) if unit_for else uow).emit(
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
        data = event.data or {}  # the event's JSON form, made once: the run keeps the same options and pools
        runs.append(
            {
                "id": run_id,
                "assessment_id": need.assessment_id,
                "cluster_id": need.cluster_id,
                "member_id": member_id,
                # The reply links are the member's to use: the run a manager reads keeps the rest.
                "options": [_without_link(option) for option in data["options"]],
                "pooled": data["pooled"],
                "matched_at": uow.now,
                "period": period,
                "reason": reasons[member_id],
            }
        )
        told[member_id] = need.cluster_id
    if runs:
        await proposals.record_runs(uow.session, runs)
    return told


async def _pools(
    uow: UnitOfWork, ledger: Ledger, members: Sequence[str], settings: MatchmakingSettings
) -> dict[str, list[PooledOpportunity]]:
    """Per member: the group offers it shares with others of its cluster for the same gap (one read per cluster)."""
    group_seats: dict[str, list[Mapping[str, Any]]] = defaultdict(list)  # per cluster
    for member_id in members:
        cluster_id = ledger.assessments[member_id].cluster_id
        member_seats = ledger.seats.get(member_id, {}).values()
        group_seats[cluster_id].extend(m for m in member_seats if OfferFormat(m["format"]) in GROUP_FORMATS)
    least = max(2, settings.pool_min_members)
    out: dict[str, list[PooledOpportunity]] = defaultdict(list)
    for cluster_id, held in group_seats.items():
        pairs = {(m["offer_id"], m["skill_code"]) for m in held}
        sharing = await seats.sharers(uow.session, ledger.period, cluster_id, pairs)
        for match in held:
            who = sorted(set(sharing.get((match["offer_id"], match["skill_code"]), ())))
            if len(who) < least:
                continue
            out[match["member_id"]].append(
                PooledOpportunity(
                    pool_id=pool_id(ledger.period, cluster_id, match["skill_code"], match["offer_id"]),
                    skill_code=match["skill_code"],
                    partner_id=match["partner_id"],
                    partner_name=match["partner_name"],
                    offer_id=match["offer_id"],
                    offer_title=match["offer_title"],
                    member_count=len(who),
                    seats=len(who),  # one seat per member organisation
                )
            )
    return out
