"""The pieces a round is made of: the offers with their free seats, a solve, match rows, releases."""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.events import ScoreComponent
from trellis_matchmaking.domain.outcomes import MatchStatus
from trellis_matchmaking.domain.partners import MemberNeed, Offer
from trellis_matchmaking.domain.periods import period_key
from trellis_matchmaking.domain.plan import MatchPlan, Proposal, plan_matches
from trellis_matchmaking.matching.ledger import Ledger
from trellis_matchmaking.repositories import gaps, proposals, registry, seats
from trellis_matchmaking.settings import MatchmakingSettings

# A solve of many gaps runs its arithmetic off the event loop, so the API keeps answering meanwhile.
_OFF_LOOP_NEEDS = 200


def current_period(settings: MatchmakingSettings, now: datetime) -> str:
    return period_key(now, settings.seat_period)


async def catalogue_of(session: AsyncSession, period: str, rows: Iterable[Row[Any]]) -> dict[str, Offer]:
    """The (locked) offers with the seats they have left in the period."""
    rows = list(rows)
    taken = await seats.seats_held(session, period, [row.id for row in rows])
    return {row.id: registry.to_offer(row, row.seats - taken[row.id]) for row in rows}


async def solve(
    ledger: Ledger,
    settings: MatchmakingSettings,
    needs: Sequence[MemberNeed],
    offers: Sequence[Offer],
    *,
    fixed: Mapping[tuple[str, str], str],
    confined: Mapping[tuple[str, str], Collection[str]] | None = None,
    seats_only: bool = False,
) -> MatchPlan:
    """``plan_matches`` with what it needs from the database (read once per round, by ``ledger``): the members'
    declines and how many members of each cluster share each gap. ``seats_only``: each gap's proposal alone,
    without the alternatives (explaining them is most of a solve's cost, and a placement stores only the seat)."""
    declined = await ledger.declined({n.member_id for n in needs})
    shared = await ledger.sharing({(n.cluster_id, n.gap.skill_code) for n in needs})
    run = functools.partial(
        plan_matches,
        needs,
        offers,
        fixed=fixed,
        confined=confined,
        declined=declined,
        shared_by=shared,
        options_per_gap=1 if seats_only else settings.options_per_gap,
        pool_min_members=settings.pool_min_members,
    )
    return await asyncio.to_thread(run) if len(needs) > _OFF_LOOP_NEEDS else run()


_EXPLANATION = TypeAdapter(list[ScoreComponent])


def explanation_json(proposal: Proposal) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = _EXPLANATION.dump_python(list(proposal.explanation), mode="json")
    return result


def explanation_from_json(stored: Any) -> list[ScoreComponent]:
    """A stored explanation read back, validated in one call rather than component by component."""
    return _EXPLANATION.validate_python(stored)


def match_row(period: str, assessment_id: str, need: MemberNeed, proposal: Proposal, now: datetime) -> dict[str, Any]:
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
        "explanation": explanation_json(proposal),
        "created_at": now,
        "updated_at": now,
        "outcome_at": None,
        "outcome_by": None,
        "outcome_note": None,
    }


async def release_matches(session: AsyncSession, match_ids: Sequence[str], now: datetime) -> None:
    """Proposals lapse: their seats are free and their gaps wait again (accepted seats are never released)."""
    if not match_ids:
        return
    ids = list(match_ids)
    await proposals.release_proposals(session, ids, now)
    await gaps.clear_gap_seats(session, ids, now)
