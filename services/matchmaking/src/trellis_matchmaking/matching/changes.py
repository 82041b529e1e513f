"""Rounds that follow a change: offers added, changed or removed; a member's gaps moved to a new period."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.auth import Scope
from trellis_common.logging import get_logger
from trellis_common.unit_of_work import UnitOfWork
from trellis_matchmaking.domain.partners import MemberNeed
from trellis_matchmaking.domain.scoring import ineligibility
from trellis_matchmaking.matching.rounds import Reason, RoundResult, settle
from trellis_matchmaking.matching.solving import current_period, release_matches
from trellis_matchmaking.repositories import gaps, registry, seats
from trellis_matchmaking.settings import MatchmakingSettings

log = get_logger(__name__)


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


async def supersede_other_periods(session: AsyncSession, member_ids: Iterable[str], period: str, now: datetime) -> None:
    """The members' gaps now live in ``period``: their open proposals from other periods lapse."""
    stale = await seats.member_proposals_elsewhere(session, member_ids, period)
    await release_matches(session, stale, now)


def _by_member(rows: Iterable[Row[Any]]) -> dict[str, list[Row[Any]]]:
    out: dict[str, list[Row[Any]]] = defaultdict(list)
    for row in rows:
        out[row.member_id].append(row)
    return out


async def release_unfit(uow: UnitOfWork, scope: Scope, offer_ids: Iterable[str]) -> list[str]:
    """After an offer or its partner changed: release the proposals it can no longer honour (the partner or
    offer is gone, the gap no longer fits the offer or its cluster closed it to the member's, or seats were cut:
    other clusters' members go first, then the mildest gaps).

    Returns the members whose proposals were released; ``settle`` places their gaps again.
    """
    session, now = uow.session, uow.now
    ids = sorted(set(offer_ids))
    rows = {row.id: row for row in await registry.lock_offers(session, ids)}
    proposed = await seats.proposals_in(session, scope, ids)
    if not proposed:
        return []
    needs: dict[tuple[str, str], MemberNeed] = {}
    members = {r.member_id for r in proposed}
    need_rows = await gaps.need_rows(session, scope, members)
    for member_id, gap_rows in _by_member(await gaps.gap_rows(session, members)).items():
        if member_id in need_rows:
            needs.update((n.key, n) for n in gaps.to_needs(need_rows[member_id], gap_rows))
    release: list[Row[Any]] = []
    room: dict[tuple[str, str], int] = {}
    # The owning cluster's members first, then the most severe: a cut releases other clusters' members, then the
    # mildest gaps.
    owners = {offer_id: row.owner_cluster_id for offer_id, row in rows.items()}
    proposed.sort(key=lambda m: owners.get(m.offer_id) not in (None, m.cluster_id))
    for match in proposed:
        offer_row = rows.get(match.offer_id)
        need = needs.get((match.member_id, match.skill_code))
        if offer_row is None or need is None:
            release.append(match)
            continue
        if ineligibility(need.gap, registry.to_offer(offer_row, seats_left=1), need.profile) is not None:
            release.append(match)
            continue
        key = (match.offer_id, match.period)
        if key not in room:
            taken = await seats.seats_held(session, match.period, [match.offer_id])
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
