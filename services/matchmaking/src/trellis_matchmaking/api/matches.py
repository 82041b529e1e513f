"""REST API of the matchmaking service: matches and their outcomes, pools, re-matching (the partner registry
is in ``api.partners``).

Access: matches, runs, pools and figures belong to clusters and are read and changed through the caller's scope,
so another cluster's objects answer 404 like ids that do not exist.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, status

from trellis_common.app import CorrelationId, Runtime, not_found
from trellis_common.auth import Admin, Reader, Scope, Writer
from trellis_common.rate_limit import EmailLimit
from trellis_common.repositories.names import names_of
from trellis_common.settings import narrowed
from trellis_common.skill_labels import skill_label
from trellis_common.text import INT4_MAX
from trellis_matchmaking.api.partners import now_period
from trellis_matchmaking.api.partners import router as partner_router
from trellis_matchmaking.domain.outcomes import (
    CONFIRMED,
    MatchStatus,
    OutcomeNotAllowed,
    conversion,
)
from trellis_matchmaking.domain.pooling import find_pools
from trellis_matchmaking.matching import (
    Reason,
    current_period,
    serve_waiting_list,
    settle,
    supersede_other_periods,
)
from trellis_matchmaking.models import NAMES
from trellis_matchmaking.outcome_recording import record_outcome as record
from trellis_matchmaking.repositories import gaps, outcomes, registry, seats
from trellis_matchmaking.schemas import (
    SKILL_CODE,
    ConversionOut,
    MatchOut,
    MatchPage,
    MatchRunOut,
    OutcomeIn,
    PoolOut,
    RematchOut,
)
from trellis_matchmaking.settings import MatchmakingSettings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

router = APIRouter()
router.include_router(partner_router)  # the partner registry: one service, one router
PERIOD = r"^\d{4}(-(Q[1-4]|H[12]|(0[1-9]|1[0-2])))?$"
Period = Annotated[str | None, Query(pattern=PERIOD, description="Seat period, e.g. 2026-Q1; default: the current")]
Ident = Annotated[str, Path(min_length=1, max_length=128)]


# --- matches, outcomes, pools -------------------------------------------------------------------------------


@router.get("/members/{member_id}/matches", response_model=list[MatchRunOut], tags=["matches"])
async def member_matches(
    member_id: Ident, runtime: Runtime, scope: Reader, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> list[dict[str, Any]]:
    """The member's match runs, newest first: what each ``matchmaking.partners.matched`` event said (an empty
    list for a member without runs in the caller's clusters, as for one not matched yet)."""
    async with runtime.db.sessions() as session:
        return await outcomes.member_runs(session, scope, member_id, limit)


@router.get("/matches", response_model=MatchPage, tags=["matches"], summary="Seat reservations and their outcomes")
async def list_matches(
    runtime: Runtime,
    scope: Reader,
    cluster_id: str | None = None,
    member_id: str | None = None,
    offer_id: str | None = None,
    match_status: Annotated[MatchStatus | None, Query(alias="status")] = None,
    period: Period = None,
    skill_code: Annotated[str | None, Query(pattern=SKILL_CODE)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=INT4_MAX)] = 0,
) -> dict[str, Any]:
    """Only the caller's clusters: filtering by another cluster gives an empty page, as an unknown one does."""
    async with runtime.db.sessions() as session:
        total, items = await outcomes.match_page(
            session,
            scope,
            cluster_id=cluster_id,
            member_id=member_id,
            offer_id=offer_id,
            status=match_status,
            period=period,
            skill_code=skill_code,
            limit=limit,
            offset=offset,
        )
        items = await _named(session, [dict(item) for item in items])
    return {"items": items, "total": total}


async def _named(session: AsyncSession, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Matches with the names people read: the member organisation's and the skill's."""
    names = await names_of(session, NAMES, member_ids=[item["member_id"] for item in items])
    return [
        item | {"member_name": names.member(item["member_id"]), "skill_label": skill_label(item["skill_code"])}
        for item in items
    ]


async def _match(runtime: Runtime, scope: Scope, match_id: str) -> dict[str, Any]:
    async with runtime.db.sessions() as session:
        row = await outcomes.match_row(session, scope, match_id)
        if row is None:
            raise not_found("match", match_id)
        return (await _named(session, [dict(row._mapping)]))[0]


@router.get("/matches/{match_id}", response_model=MatchOut, tags=["matches"])
async def get_match(match_id: Ident, runtime: Runtime, scope: Reader) -> dict[str, Any]:
    return await _match(runtime, scope, match_id)


@router.post(
    "/matches/{match_id}/outcome",
    response_model=MatchOut,
    tags=["outcomes"],
    summary="Record that the member accepted, declined or completed the match",
    responses={409: {"description": "The outcome does not follow from the match's status"}},
)
async def record_outcome(
    match_id: Ident, body: OutcomeIn, runtime: Runtime, correlation: CorrelationId, scope: Writer
) -> Any:
    """Accepting confirms the seat; declining frees it, and the offer is not proposed for this gap again (a
    re-match proposes another); completing records that the member took part."""
    async with runtime.unit_of_work(correlation_id=correlation) as uow:
        try:
            recorded = await record(
                runtime, uow, scope, match_id, body.outcome, recorded_by=body.recorded_by.value, note=body.note
            )
        except OutcomeNotAllowed as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, detail=f"outcome: {exc}") from None
        if recorded is None:
            raise not_found("match", match_id)
    return await _match(runtime, scope, match_id)


@router.get(
    "/outcomes/conversion",
    response_model=ConversionOut,
    tags=["outcomes"],
    summary="The funnel of proposals: proposed → accepted → completed (and declined)",
)
async def conversion_rate(
    runtime: Runtime,
    scope: Reader,
    cluster_id: Annotated[str | None, Query(max_length=128)] = None,
    period: Period = None,
) -> dict[str, Any]:
    """Counts the caller's clusters only (another cluster's id counts nothing, as an unknown one)."""
    async with runtime.db.sessions() as session:
        counts = await outcomes.status_counts(session, scope, cluster_id=cluster_id, period=period)
    figures = conversion(counts)
    result = {k: v for k, v in vars(figures).items() if k != "rate"}
    return {**result, "cluster_id": cluster_id, "period": period, "conversion_rate": figures.rate}


@router.get(
    "/clusters/{cluster_id}/pools",
    response_model=list[PoolOut],
    tags=["pools"],
    summary="Pooled opportunities: members of the cluster placed in the same group offer for the same gap",
)
async def cluster_pools(
    cluster_id: Ident,
    runtime: Runtime,
    scope: Reader,
    period: Period = None,
    limit: Annotated[int | None, Query(ge=1, le=500, description="Only the largest pools (most members)")] = None,
) -> list[PoolOut]:
    if not scope.allows(cluster_id):
        raise not_found("cluster", cluster_id)
    settings = narrowed(runtime.settings, MatchmakingSettings)
    period = period or now_period(runtime)
    async with runtime.db.sessions() as session:
        if limit is None:
            rows = await seats.seat_rows(session, scope, period, cluster_id=cluster_id)
        else:
            rows = await seats.largest_pool_rows(
                session, scope, period, cluster_id=cluster_id, min_members=settings.pool_min_members, limit=limit
            )
        pools = find_pools(seats.seat_holders(rows), period=period, min_members=settings.pool_min_members)
        if limit is not None:
            pools = sorted(pools, key=lambda pool: -len(pool.member_ids))[:limit]
        # Names of the pooled members only, each once: an IN list of every seat holder costs more to compile
        # than to run.
        pooled = sorted({member_id for pool in pools for member_id in pool.member_ids})
        names = await names_of(session, NAMES, member_ids=pooled)
        contacts = await registry.offer_contacts(session, {pool.offer_id for pool in pools})
    by_offer = {r.offer_id: r for r in rows}
    accepted = Counter((r.skill_code, r.offer_id) for r in rows if MatchStatus(r.status) in CONFIRMED)
    return [
        PoolOut(
            pool_id=pool.pool_id,
            period=period,
            cluster_id=cluster_id,
            skill_code=pool.skill_code,
            partner_id=by_offer[pool.offer_id].partner_id,
            partner_name=by_offer[pool.offer_id].partner_name,
            offer_id=pool.offer_id,
            offer_title=by_offer[pool.offer_id].offer_title,
            member_ids=list(pool.member_ids),
            member_names=[names.member(member_id) for member_id in pool.member_ids],
            skill_label=skill_label(pool.skill_code),
            member_count=len(pool.member_ids),
            seats=pool.seats,
            accepted=accepted[(pool.skill_code, pool.offer_id)],
            contact=contacts.get(pool.offer_id),
        )
        for pool in pools
    ]


# --- re-matching --------------------------------------------------------------------------------------------


@router.post(
    "/rematch",
    response_model=RematchOut,
    tags=["re-matching"],
    summary="Place every open gap of the current period again, e.g. after seats or partners changed",
)
async def rematch(runtime: Runtime, correlation: CorrelationId, scope: Admin) -> RematchOut:
    """Platform admins only: shared and open offers serve several clusters, so the round gives free seats to every
    cluster's waiting gaps (it never moves a proposal)."""
    settings = narrowed(runtime.settings, MatchmakingSettings)
    async with runtime.unit_of_work(correlation_id=correlation) as uow:
        offer_ids = await registry.all_offer_ids(uow.session)
        result = await serve_waiting_list(uow, settings, current_period(settings, uow.now), offer_ids)
    return RematchOut(**result.seen_by(scope))


@router.post(
    "/members/{member_id}/rematch",
    response_model=RematchOut,
    tags=["re-matching"],
    summary="Match the member's latest gaps again in the current period (it always gets a new matched event)",
)
async def rematch_member(
    member_id: Ident,
    runtime: Runtime,
    correlation: CorrelationId,
    scope: Writer,
    _limit: EmailLimit,  # each re-match emails the member's contacts again
) -> RematchOut:
    """The member must be in the caller's clusters. The round is the same as when the member's gaps arrive (it may
    move other clusters' milder proposals); the answer counts only the caller's clusters."""
    settings = narrowed(runtime.settings, MatchmakingSettings)
    async with runtime.unit_of_work(correlation_id=correlation) as uow:
        period = current_period(settings, uow.now)
        if not await gaps.move_needs(uow.session, scope, member_id, period, uow.now):
            raise not_found("gaps of member", member_id)
        await supersede_other_periods(uow.session, [member_id], period, uow.now)
        result = await settle(uow, settings, period, {member_id: Reason.REMATCH})
    return RematchOut(**result.seen_by(scope))
