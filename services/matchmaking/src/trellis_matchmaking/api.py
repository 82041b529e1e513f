"""REST API of the matchmaking service: the partner registry, matches and their outcomes, pools, re-matching.

Access: the partner directory is platform-wide (any caller holding a role reads it, platform admins change it);
matches, runs, pools and figures belong to clusters and are read and changed through the caller's scope, so
another cluster's objects answer 404 like ids that do not exist.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response, UploadFile, status
from fastapi.responses import JSONResponse
from sqlalchemy import ColumnElement, Row, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.app import CorrelationId, Runtime, not_found, report_or_invalid
from trellis_common.auth import Admin, Caller, Principal, Reader, Scope, Writer
from trellis_common.csv_upload import CsvLayoutError
from trellis_common.names import names_of
from trellis_common.rate_limit import EmailLimit
from trellis_common.skill_labels import skill_label
from trellis_common.text import INT4_MAX
from trellis_common.unit_of_work import UnitOfWork
from trellis_matchmaking import repository
from trellis_matchmaking.domain.outcomes import (
    CONFIRMED,
    MatchStatus,
    OutcomeNotAllowed,
    conversion,
)
from trellis_matchmaking.domain.partners import PartnerType
from trellis_matchmaking.domain.pooling import find_pools
from trellis_matchmaking.matching import (
    Reason,
    after_offers_changed,
    current_period,
    serve_waiting_list,
    settle,
    supersede_other_periods,
)
from trellis_matchmaking.models import NAMES, matches, offers, partners
from trellis_matchmaking.outcome_recording import record_outcome as record
from trellis_matchmaking.partner_csv import check_partners, read_rows
from trellis_matchmaking.schemas import (
    SKILL_CODE,
    ConversionOut,
    ImportReport,
    ImportRowError,
    MatchOut,
    MatchPage,
    MatchRunOut,
    OfferIn,
    OfferOut,
    OutcomeIn,
    PartnerIn,
    PartnerOut,
    PartnerPage,
    PartnerPatch,
    PoolOut,
    RematchOut,
)
from trellis_matchmaking.settings import matchmaking_settings

router = APIRouter()
PERIOD = r"^\d{4}(-(Q[1-4]|H[12]|(0[1-9]|1[0-2])))?$"
Period = Annotated[str | None, Query(pattern=PERIOD, description="Seat period, e.g. 2026-Q1; default: the current")]
Ident = Annotated[str, Path(min_length=1, max_length=128)]


async def directory_reader(caller: Caller) -> Principal:
    """The partner directory is platform-wide reference data: any caller holding a Trellis role may read it,
    whatever its clusters. No scope comes of it, so it cannot open cluster data by mistake."""
    if not caller.roles:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="reading the partner directory needs a Trellis role")
    return caller


Directory = Annotated[Principal, Depends(directory_reader)]


def _now_period(runtime: Runtime) -> str:
    return current_period(matchmaking_settings(runtime.settings), runtime.clock.now())


def _offer_out(row: Any, period: str, taken: Counter[str]) -> dict[str, Any]:
    held = taken[row.id]
    return {**row._mapping, "period": period, "seats_taken": held, "seats_left": max(0, row.seats - held)}


async def _partners_out(session: AsyncSession, rows: Sequence[Row[Any]], period: str) -> list[dict[str, Any]]:
    ids = [r.id for r in rows]
    offered = (
        await session.execute(select(offers).where(offers.c.partner_id.in_(ids)).order_by(offers.c.title, offers.c.id))
    ).all()
    taken = await repository.seats_held(session, period, [o.id for o in offered])
    by_partner: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    for offer in offered:
        by_partner[offer.partner_id].append(_offer_out(offer, period, taken))
    return [{**r._mapping, "offers": by_partner[r.id]} for r in rows]


async def _partner(runtime: Runtime, partner_id: str) -> dict[str, Any]:
    async with runtime.db.sessions() as session:
        row = (await session.execute(select(partners).where(partners.c.id == partner_id))).first()
        if row is None:
            raise not_found("partner", partner_id)
        return (await _partners_out(session, [row], _now_period(runtime)))[0]


def _offer_row(partner_id: str, offer: OfferIn, offer_id: str | None = None) -> dict[str, Any]:
    return {"id": offer_id or str(uuid.uuid4()), "partner_id": partner_id, **offer.model_dump(mode="json")}


async def _insert_partner(session: AsyncSession, body: PartnerIn, now: Any) -> tuple[str, list[str]]:
    """The new partner's id and its offers' ids."""
    partner_id = str(uuid.uuid4())
    await session.execute(
        insert(partners).values(
            id=partner_id,
            name=body.name,
            partner_type=body.partner_type,
            country=body.country,
            website=str(body.website) if body.website else None,
            contact=body.contact,
            created_at=now,
            updated_at=now,
        )
    )
    rows = [_offer_row(partner_id, o) for o in body.offers]
    await repository.insert_offers(session, rows)
    return partner_id, [row["id"] for row in rows]


# --- the partner registry ---------------------------------------------------------------------------------


@router.post("/partners", status_code=status.HTTP_201_CREATED, response_model=PartnerOut, tags=["partners"])
async def create_partner(body: PartnerIn, runtime: Runtime, correlation: CorrelationId, _: Admin) -> dict[str, Any]:
    async with runtime.unit_of_work(correlation_id=correlation) as uow:
        partner_id, offer_ids = await _insert_partner(uow.session, body, uow.now)
        await _serve_waiting_list(runtime, uow, offer_ids)
    return await _partner(runtime, partner_id)


@router.post(
    "/partners/import",
    status_code=status.HTTP_201_CREATED,
    response_model=ImportReport,
    tags=["partners"],
    summary="Import partners and offers from CSV: all rows or none, with a per-row error report",
    responses={
        422: report_or_invalid(ImportReport, "Nothing imported; the rows to fix, their columns and why"),
        413: {"description": "The file is larger than the import allows"},
    },
)
async def import_partners(file: UploadFile, runtime: Runtime, correlation: CorrelationId, _: Admin) -> Any:
    settings = matchmaking_settings(runtime.settings)
    content = await file.read(settings.partner_import_max_bytes + 1)
    if len(content) > settings.partner_import_max_bytes:
        raise HTTPException(413, detail=f"file: larger than {settings.partner_import_max_bytes} bytes")
    try:
        rows = read_rows(content, settings.partner_import_max_rows)
    except CsvLayoutError as exc:
        raise HTTPException(
            422,
            detail=[{"type": "value_error", "loc": ["body", "file"], "msg": str(exc)}],
        ) from None
    async with runtime.unit_of_work(correlation_id=correlation) as uow:
        registered = {
            name.casefold(): pid for pid, name in await uow.session.execute(select(partners.c.id, partners.c.name))
        }
        checked = check_partners(rows, registered)
        if checked.errors:
            report = ImportReport(
                imported_partners=0,
                imported_offers=0,
                rows_checked=checked.rows_checked,
                errors=[ImportRowError(row=e.row, column=e.column, reason=e.reason) for e in checked.errors],
                bad_rows=checked.bad_rows,
            )
            return JSONResponse(report.model_dump(), status_code=422)
        inserted = [await _insert_partner(uow.session, partner, uow.now) for partner in checked.partners]
        ids = [partner_id for partner_id, _ in inserted]
        await _serve_waiting_list(runtime, uow, [o for _, offer_ids in inserted for o in offer_ids])
    return ImportReport(
        imported_partners=len(ids), imported_offers=checked.offers, partner_ids=ids, rows_checked=checked.rows_checked
    )


@router.get("/partners/{partner_id}", response_model=PartnerOut, tags=["partners"])
async def get_partner(partner_id: Ident, runtime: Runtime, _: Directory) -> dict[str, Any]:
    return await _partner(runtime, partner_id)


@router.get("/partners", response_model=PartnerPage, tags=["partners"])
async def list_partners(
    runtime: Runtime,
    _: Directory,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=INT4_MAX)] = 0,
    partner_type: PartnerType | None = None,
    country: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$")] = None,
) -> dict[str, Any]:
    where = []
    if partner_type:
        where.append(partners.c.partner_type == partner_type)
    if country:
        where.append(partners.c.country == country)
    async with runtime.db.sessions() as session:
        total = await session.scalar(select(func.count()).select_from(partners).where(*where))
        rows = (
            await session.execute(
                select(partners).where(*where).order_by(partners.c.name, partners.c.id).limit(limit).offset(offset)
            )
        ).all()
        items = await _partners_out(session, rows, _now_period(runtime))
    return {"items": items, "total": total or 0}


@router.patch(
    "/partners/{partner_id}",
    response_model=PartnerOut,
    tags=["partners"],
    summary="Change a partner; proposals its offers can no longer honour are released (re-match to place them)",
)
async def patch_partner(
    partner_id: Ident, body: PartnerPatch, runtime: Runtime, correlation: CorrelationId, scope: Admin
) -> dict[str, Any]:
    changes = body.model_dump(mode="json", exclude_unset=True)
    if "name" in changes and changes["name"] is None:
        raise HTTPException(422, detail=[{"type": "value_error", "loc": ["body", "name"], "msg": "cannot be empty"}])
    if "partner_type" in changes and changes["partner_type"] is None:
        raise HTTPException(
            422, detail=[{"type": "value_error", "loc": ["body", "partner_type"], "msg": "cannot be empty"}]
        )
    async with runtime.unit_of_work(correlation_id=correlation) as uow:
        done = await uow.session.execute(
            update(partners).where(partners.c.id == partner_id).values(**changes, updated_at=uow.now)
        )
        if done.rowcount == 0:  # type: ignore[attr-defined]
            raise not_found("partner", partner_id)
        offer_ids = await uow.session.scalars(select(offers.c.id).where(offers.c.partner_id == partner_id))
        await after_offers_changed(uow, matchmaking_settings(runtime.settings), scope, list(offer_ids))
    return await _partner(runtime, partner_id)


@router.delete(
    "/partners/{partner_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["partners"],
    summary="Remove a partner and its offers; their open proposals are released (accepted matches stay on record)",
)
async def delete_partner(partner_id: Ident, runtime: Runtime, correlation: CorrelationId, scope: Admin) -> Response:
    async with runtime.unit_of_work(correlation_id=correlation) as uow:
        offer_ids = list(await uow.session.scalars(select(offers.c.id).where(offers.c.partner_id == partner_id)))
        await uow.session.execute(delete(offers).where(offers.c.partner_id == partner_id))
        done = await uow.session.execute(delete(partners).where(partners.c.id == partner_id))
        if done.rowcount == 0:  # type: ignore[attr-defined]
            raise not_found("partner", partner_id)
        await after_offers_changed(uow, matchmaking_settings(runtime.settings), scope, offer_ids)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _serve_waiting_list(runtime: Runtime, uow: UnitOfWork, offer_ids: Sequence[str]) -> None:
    """New offers' seats go to the gaps waiting for one."""
    if offer_ids:
        settings = matchmaking_settings(runtime.settings)
        await serve_waiting_list(uow, settings, current_period(settings, uow.now), offer_ids)


async def _offer_view(runtime: Runtime, offer_id: str) -> dict[str, Any]:
    period = _now_period(runtime)
    async with runtime.db.sessions() as session:
        row = (await session.execute(select(offers).where(offers.c.id == offer_id))).first()
        if row is None:
            raise not_found("offer", offer_id)
        return _offer_out(row, period, await repository.seats_held(session, period, [offer_id]))


@router.post(
    "/partners/{partner_id}/offers", status_code=status.HTTP_201_CREATED, response_model=OfferOut, tags=["offers"]
)
async def add_offer(
    partner_id: Ident, body: OfferIn, runtime: Runtime, correlation: CorrelationId, _: Admin
) -> dict[str, Any]:
    async with runtime.unit_of_work(correlation_id=correlation) as uow:
        if not await uow.session.scalar(select(partners.c.id).where(partners.c.id == partner_id)):
            raise not_found("partner", partner_id)
        row = _offer_row(partner_id, body)
        await repository.insert_offers(uow.session, [row])
        await _serve_waiting_list(runtime, uow, [row["id"]])
    return await _offer_view(runtime, row["id"])


@router.get("/offers/{offer_id}", response_model=OfferOut, tags=["offers"])
async def get_offer(offer_id: Ident, runtime: Runtime, _: Directory) -> dict[str, Any]:
    return await _offer_view(runtime, offer_id)


@router.put(
    "/offers/{offer_id}",
    response_model=OfferOut,
    tags=["offers"],
    summary="Replace an offer; proposals it can no longer honour are released, the mildest gaps first",
    responses={409: {"description": "Fewer seats than members have already accepted in the current period"}},
)
async def replace_offer(
    offer_id: Ident, body: OfferIn, runtime: Runtime, correlation: CorrelationId, scope: Admin
) -> dict[str, Any]:
    period = _now_period(runtime)
    async with runtime.unit_of_work(correlation_id=correlation) as uow:
        row = (await uow.session.execute(select(offers).where(offers.c.id == offer_id).with_for_update())).first()
        if row is None:
            raise not_found("offer", offer_id)
        accepted = await uow.session.scalar(
            select(func.count()).where(
                matches.c.offer_id == offer_id,
                matches.c.period == period,
                matches.c.status.in_([s.value for s in CONFIRMED]),
            )
        )
        if body.seats < (accepted or 0):
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                detail=f"seats: {accepted} members have accepted a seat in {period}; the offer cannot have fewer",
            )
        await uow.session.execute(
            update(offers).where(offers.c.id == offer_id).values(_offer_row(row.partner_id, body, offer_id))
        )
        await repository.set_offer_skills(uow.session, offer_id, body.skill_codes)
        await after_offers_changed(uow, matchmaking_settings(runtime.settings), scope, [offer_id])
    return await _offer_view(runtime, offer_id)


@router.delete("/offers/{offer_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["offers"])
async def delete_offer(offer_id: Ident, runtime: Runtime, correlation: CorrelationId, scope: Admin) -> Response:
    async with runtime.unit_of_work(correlation_id=correlation) as uow:
        done = await uow.session.execute(delete(offers).where(offers.c.id == offer_id))
        if done.rowcount == 0:  # type: ignore[attr-defined]
            raise not_found("offer", offer_id)
        await after_offers_changed(uow, matchmaking_settings(runtime.settings), scope, [offer_id])
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- matches, outcomes, pools -------------------------------------------------------------------------------


@router.get("/members/{member_id}/matches", response_model=list[MatchRunOut], tags=["matches"])
async def member_matches(
    member_id: Ident, runtime: Runtime, scope: Reader, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> list[dict[str, Any]]:
    """The member's match runs, newest first: what each ``matchmaking.partners.matched`` event said (an empty
    list for a member without runs in the caller's clusters, as for one not matched yet)."""
    async with runtime.db.sessions() as session:
        return await repository.member_runs(session, scope, member_id, limit)


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
    filters = {
        matches.c.cluster_id: cluster_id,
        matches.c.member_id: member_id,
        matches.c.offer_id: offer_id,
        matches.c.status: match_status.value if match_status else None,
        matches.c.period: period,
        matches.c.skill_code: skill_code,
    }
    where: list[ColumnElement[bool]] = [column == value for column, value in filters.items() if value is not None]
    async with runtime.db.sessions() as session:
        total, items = await repository.match_page(session, scope, where, limit=limit, offset=offset)
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
        row = await repository.match_row(session, scope, match_id)
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
        counts = await repository.status_counts(session, scope, cluster_id=cluster_id, period=period)
    figures = conversion(counts)
    result = {k: v for k, v in vars(figures).items() if k != "rate"}
    return {**result, "cluster_id": cluster_id, "period": period, "conversion_rate": figures.rate}


@router.get(
    "/clusters/{cluster_id}/pools",
    response_model=list[PoolOut],
    tags=["pools"],
    summary="Pooled opportunities: members of the cluster placed in the same group offer for the same gap",
)
async def cluster_pools(cluster_id: Ident, runtime: Runtime, scope: Reader, period: Period = None) -> list[PoolOut]:
    if not scope.allows(cluster_id):
        raise not_found("cluster", cluster_id)
    settings = matchmaking_settings(runtime.settings)
    period = period or _now_period(runtime)
    async with runtime.db.sessions() as session:
        rows = await repository.seat_rows(session, scope, period, cluster_id=cluster_id)
        names = await names_of(session, NAMES, member_ids=[r.member_id for r in rows])
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
        )
        for pool in find_pools(repository.seat_holders(rows), period=period, min_members=settings.pool_min_members)
    ]


# --- re-matching --------------------------------------------------------------------------------------------


@router.post(
    "/rematch",
    response_model=RematchOut,
    tags=["re-matching"],
    summary="Place every open gap of the current period again, e.g. after seats or partners changed",
)
async def rematch(runtime: Runtime, correlation: CorrelationId, scope: Admin) -> RematchOut:
    """Platform admins only: seats are shared by every cluster, so the round re-solves all clusters' gaps (and may
    move other clusters' proposals); it follows the directory changes only admins make."""
    settings = matchmaking_settings(runtime.settings)
    async with runtime.unit_of_work(correlation_id=correlation) as uow:
        offer_ids = list(await uow.session.scalars(select(offers.c.id)))
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
    settings = matchmaking_settings(runtime.settings)
    async with runtime.unit_of_work(correlation_id=correlation) as uow:
        period = current_period(settings, uow.now)
        if not await repository.move_needs(uow.session, scope, member_id, period, uow.now):
            raise not_found("gaps of member", member_id)
        await supersede_other_periods(uow.session, [member_id], period, uow.now)
        result = await settle(uow, settings, period, {member_id: Reason.REMATCH})
    return RematchOut(**result.seen_by(scope))
