"""REST API of the partner registry: partners and their offers, and the CSV import.

A partner is shared platform-wide (platform admins change it) or belongs to a cluster (that cluster's managers
change it, and its members get the seats of its offers first). Readers see shared partners, their own
clusters' partners and those other clusters opened to them; another cluster's closed partner, and its offers,
answer 404 as ids that do not exist. Changing a partner or an offer has consequences for every member holding
its seats, whatever the cluster (a cut or a closing releases other clusters' proposals too), so the rounds
that follow run over every cluster.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response, UploadFile, status
from fastapi.responses import JSONResponse

from trellis_common.app import CorrelationId, Runtime, invalid, not_found, report_or_invalid
from trellis_common.auth import READ_ROLES, Caller, Principal, Role, Scope, Writer
from trellis_common.csv_upload import CsvLayoutError
from trellis_common.settings import narrowed
from trellis_common.text import INT4_MAX
from trellis_common.unit_of_work import UnitOfWork
from trellis_matchmaking.domain.partners import PartnerType
from trellis_matchmaking.matching import EVERYTHING, after_offers_changed, current_period, serve_waiting_list
from trellis_matchmaking.partner_csv import check_partners, read_rows
from trellis_matchmaking.repositories import registry, seats
from trellis_matchmaking.schemas import (
    OPEN,
    ClusterId,
    ImportReport,
    ImportRowError,
    OfferIn,
    OfferOut,
    PartnerIn,
    PartnerOut,
    PartnerPage,
    PartnerPatch,
)
from trellis_matchmaking.settings import MatchmakingSettings

if TYPE_CHECKING:
    from sqlalchemy import Row
    from sqlalchemy.ext.asyncio import AsyncSession

router = APIRouter()
Ident = Annotated[str, Path(min_length=1, max_length=128)]
SHARED_IS_OPEN = "a shared partner's seats are open to every cluster"


async def directory_reader(caller: Caller) -> Scope:
    """Any caller holding a Trellis role reads the directory: shared partners, those of its clusters and those
    other clusters opened (a caller without clusters sees the shared and opened ones)."""
    if not caller.roles:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="reading the partner directory needs a Trellis role")
    return Scope.of(caller, READ_ROLES)


Directory = Annotated[Scope, Depends(directory_reader)]


def now_period(runtime: Runtime) -> str:
    return current_period(narrowed(runtime.settings, MatchmakingSettings), runtime.clock.now())


# --- who may own and change what ------------------------------------------------------------------------------


def _may_own(caller: Principal, owner: str | None) -> bool:
    """Shared partners are platform admins'; a cluster's partner its managers' (and platform admins')."""
    if owner is None:
        return Role.PLATFORM_ADMIN in caller.roles
    return caller.may(Role.CLUSTER_MANAGER, owner)


def _refuse(owner: str | None) -> HTTPException:
    whose = "shared partners" if owner is None else f"partners of cluster {owner!r}"
    who = "platform admins" if owner is None else "its managers and platform admins"
    return HTTPException(status.HTTP_403_FORBIDDEN, detail=f"only {who} change {whose}")


def _default_owner(caller: Principal, scope: Scope) -> str | None:
    """The owner of a partner created without naming one: shared for a platform admin, else the one cluster
    the caller manages."""
    if Role.PLATFORM_ADMIN in caller.roles:
        return None
    managed = scope.clusters or frozenset()
    if len(managed) != 1:
        raise invalid("owner_cluster_id", "name the cluster the partner belongs to (you manage several)")
    return next(iter(managed))


def _owner_of_new(caller: Principal, scope: Scope, named: bool, owner: str | None) -> str | None:
    owner = owner if named else _default_owner(caller, scope)
    if not _may_own(caller, owner):
        raise _refuse(owner)
    return owner


def _openness(owner: str | None, asked: bool | None, current: bool | None = None) -> bool:
    """Shared partners are open to every cluster; a cluster's partner keeps its seats for its members unless
    opened (``current``: what it was, kept when the owner stays a cluster)."""
    if owner is None:
        if asked is False:
            raise invalid("open_to_other_clusters", SHARED_IS_OPEN)
        return True
    if asked is not None:
        return asked
    return bool(current)


async def _writable(session: AsyncSession, caller: Principal, partner_id: str) -> Row[Any]:
    """The partner, when the caller may change it: 404 when it cannot see it, 403 when it only reads it."""
    row = await registry.visible_partner(session, Scope.of(caller, READ_ROLES), partner_id)
    if row is None:
        raise not_found("partner", partner_id)
    if not _may_own(caller, row.owner_cluster_id):
        raise _refuse(row.owner_cluster_id)
    return row


async def _offer_partner(session: AsyncSession, caller: Principal, offer_id: str) -> Row[Any]:
    """The partner of an offer the caller may change (the offer locked until the change commits)."""
    partner_id = await registry.lock_offer_partner(session, offer_id)
    try:
        return await _writable(session, caller, partner_id or "")
    except HTTPException as refused:
        if refused.status_code == status.HTTP_404_NOT_FOUND:
            raise not_found("offer", offer_id) from None
        raise


# --- reading ------------------------------------------------------------------------------------------------


def _offer_out(row: Any, period: str, taken: Counter[str]) -> dict[str, Any]:
    held = taken[row.id]
    return {**row._mapping, "period": period, "seats_taken": held, "seats_left": max(0, row.seats - held)}


async def _partners_out(session: AsyncSession, rows: Sequence[Row[Any]], period: str) -> list[dict[str, Any]]:
    ids = [r.id for r in rows]
    offered = await registry.partners_offers(session, ids)
    taken = await seats.seats_held(session, period, [o.id for o in offered])
    by_partner: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    for offer in offered:
        by_partner[offer.partner_id].append(_offer_out(offer, period, taken))
    return [{**r._mapping, "offers": by_partner[r.id]} for r in rows]


async def _partner(runtime: Runtime, partner_id: str) -> dict[str, Any]:
    """A partner the caller was allowed to reach (the route checked)."""
    async with runtime.db.sessions() as session:
        row = await registry.partner(session, partner_id)
        if row is None:
            raise not_found("partner", partner_id)
        return (await _partners_out(session, [row], now_period(runtime)))[0]


async def _offer_view(runtime: Runtime, scope: Scope, offer_id: str) -> dict[str, Any]:
    period = now_period(runtime)
    async with runtime.db.sessions() as session:
        row = await registry.visible_offer(session, scope, offer_id)
        if row is None:
            raise not_found("offer", offer_id)
        return _offer_out(row, period, await seats.seats_held(session, period, [offer_id]))


@router.get("/partners/{partner_id}", response_model=PartnerOut, tags=["partners"])
async def get_partner(partner_id: Ident, runtime: Runtime, scope: Directory) -> dict[str, Any]:
    async with runtime.db.sessions() as session:
        row = await registry.visible_partner(session, scope, partner_id)
        if row is None:
            raise not_found("partner", partner_id)
        return (await _partners_out(session, [row], now_period(runtime)))[0]


@router.get(
    "/partners",
    response_model=PartnerPage,
    tags=["partners"],
    summary="Shared partners, the caller's clusters' own, and those other clusters opened to theirs",
)
async def list_partners(
    runtime: Runtime,
    scope: Directory,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=INT4_MAX)] = 0,
    partner_type: PartnerType | None = None,
    country: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$")] = None,
    owner_cluster_id: Annotated[
        str | None, Query(min_length=1, max_length=128, description="Only the partners this cluster owns")
    ] = None,
) -> dict[str, Any]:
    async with runtime.db.sessions() as session:
        total, rows = await registry.partner_page(
            session,
            scope,
            partner_type=partner_type,
            country=country,
            owner_cluster_id=owner_cluster_id,
            limit=limit,
            offset=offset,
        )
        items = await _partners_out(session, rows, now_period(runtime))
    return {"items": items, "total": total}


@router.get("/offers/{offer_id}", response_model=OfferOut, tags=["offers"])
async def get_offer(offer_id: Ident, runtime: Runtime, scope: Directory) -> dict[str, Any]:
    return await _offer_view(runtime, scope, offer_id)


# --- changing -----------------------------------------------------------------------------------------------


def _offer_row(partner_id: str, offer: OfferIn, offer_id: str | None = None) -> dict[str, Any]:
    return {"id": offer_id or str(uuid.uuid4()), "partner_id": partner_id, **offer.model_dump(mode="json")}


async def _insert_partner(session: AsyncSession, body: PartnerIn, owner: str | None, now: Any) -> tuple[str, list[str]]:
    """The new partner's id and its offers' ids."""
    partner_id = str(uuid.uuid4())
    await registry.insert_partner(
        session,
        {
            "id": partner_id,
            "name": body.name,
            "partner_type": body.partner_type,
            "country": body.country,
            "website": str(body.website) if body.website else None,
            "contact": body.contact,
            "owner_cluster_id": owner,
            "open_to_other_clusters": _openness(owner, body.open_to_other_clusters),
            "created_at": now,
            "updated_at": now,
        },
    )
    rows = [_offer_row(partner_id, o) for o in body.offers]
    await registry.insert_offers(session, rows)
    return partner_id, [row["id"] for row in rows]


async def _serve_waiting_list(runtime: Runtime, uow: UnitOfWork, offer_ids: Sequence[str]) -> None:
    """New offers' seats go to the gaps waiting for one."""
    if offer_ids:
        settings = narrowed(runtime.settings, MatchmakingSettings)
        await serve_waiting_list(uow, settings, current_period(settings, uow.now), offer_ids)


@router.post(
    "/partners",
    status_code=status.HTTP_201_CREATED,
    response_model=PartnerOut,
    tags=["partners"],
    summary="Register a partner with its offers: a cluster's (its managers) or shared (platform admins)",
)
async def create_partner(
    body: PartnerIn, runtime: Runtime, correlation: CorrelationId, caller: Caller, scope: Writer
) -> dict[str, Any]:
    owner = _owner_of_new(caller, scope, "owner_cluster_id" in body.model_fields_set, body.owner_cluster_id)
    async with runtime.unit_of_work(correlation_id=correlation) as uow:
        partner_id, offer_ids = await _insert_partner(uow.session, body, owner, uow.now)
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
async def import_partners(
    file: UploadFile,
    runtime: Runtime,
    correlation: CorrelationId,
    caller: Caller,
    scope: Writer,
    owner_cluster_id: Annotated[
        ClusterId | None,
        Query(description="The cluster the imported partners belong to; omitted: as for POST /partners"),
    ] = None,
    open_to_other_clusters: Annotated[bool | None, Query(description=OPEN)] = None,
) -> Any:
    owner = _owner_of_new(caller, scope, owner_cluster_id is not None, owner_cluster_id)
    openness = _openness(owner, open_to_other_clusters)
    settings = narrowed(runtime.settings, MatchmakingSettings)
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
        registered = {name.casefold(): pid for pid, name in await registry.partner_names(uow.session, owner)}
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
        inserted = [
            await _insert_partner(
                uow.session, partner.model_copy(update={"open_to_other_clusters": openness}), owner, uow.now
            )
            for partner in checked.partners
        ]
        ids = [partner_id for partner_id, _ in inserted]
        await _serve_waiting_list(runtime, uow, [o for _, offer_ids in inserted for o in offer_ids])
    return ImportReport(
        imported_partners=len(ids), imported_offers=checked.offers, partner_ids=ids, rows_checked=checked.rows_checked
    )


def _patch_values(caller: Principal, row: Row[Any], body: PartnerPatch) -> dict[str, Any]:
    """The columns a patch changes; a new owner must be one the caller may give the partner to."""
    changes = body.model_dump(mode="json", exclude_unset=True)
    for required in ("name", "partner_type", "open_to_other_clusters"):
        if required in changes and changes[required] is None:
            raise invalid(required, "cannot be empty")
    owner = changes.get("owner_cluster_id", row.owner_cluster_id)
    if owner != row.owner_cluster_id and not _may_own(caller, owner):
        raise _refuse(owner)
    current = row.open_to_other_clusters if row.owner_cluster_id is not None else None
    changes["open_to_other_clusters"] = _openness(owner, changes.get("open_to_other_clusters"), current)
    return changes


@router.patch(
    "/partners/{partner_id}",
    response_model=PartnerOut,
    tags=["partners"],
    summary="Change a partner; proposals its offers can no longer honour are released and placed again",
)
async def patch_partner(
    partner_id: Ident, body: PartnerPatch, runtime: Runtime, correlation: CorrelationId, caller: Caller, _: Writer
) -> dict[str, Any]:
    async with runtime.unit_of_work(correlation_id=correlation) as uow:
        row = await _writable(uow.session, caller, partner_id)
        changes = _patch_values(caller, row, body)
        await registry.update_partner(uow.session, partner_id, changes, uow.now)
        offer_ids = await registry.partner_offer_ids(uow.session, partner_id)
        await after_offers_changed(uow, narrowed(runtime.settings, MatchmakingSettings), EVERYTHING, offer_ids)
    return await _partner(runtime, partner_id)


@router.delete(
    "/partners/{partner_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["partners"],
    summary="Remove a partner and its offers; their open proposals are released (accepted matches stay on record)",
)
async def delete_partner(
    partner_id: Ident, runtime: Runtime, correlation: CorrelationId, caller: Caller, _: Writer
) -> Response:
    async with runtime.unit_of_work(correlation_id=correlation) as uow:
        await _writable(uow.session, caller, partner_id)
        offer_ids = await registry.partner_offer_ids(uow.session, partner_id)
        await registry.delete_partner(uow.session, partner_id)
        await after_offers_changed(uow, narrowed(runtime.settings, MatchmakingSettings), EVERYTHING, offer_ids)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/partners/{partner_id}/offers", status_code=status.HTTP_201_CREATED, response_model=OfferOut, tags=["offers"]
)
async def add_offer(
    partner_id: Ident, body: OfferIn, runtime: Runtime, correlation: CorrelationId, caller: Caller, _: Writer
) -> dict[str, Any]:
    async with runtime.unit_of_work(correlation_id=correlation) as uow:
        await _writable(uow.session, caller, partner_id)
        row = _offer_row(partner_id, body)
        await registry.insert_offers(uow.session, [row])
        await _serve_waiting_list(runtime, uow, [row["id"]])
    return await _offer_view(runtime, EVERYTHING, row["id"])


@router.put(
    "/offers/{offer_id}",
    response_model=OfferOut,
    tags=["offers"],
    summary="Replace an offer; proposals it can no longer honour are released, the mildest gaps first",
    responses={409: {"description": "Fewer seats than members have already accepted in the current period"}},
)
async def replace_offer(
    offer_id: Ident, body: OfferIn, runtime: Runtime, correlation: CorrelationId, caller: Caller, _: Writer
) -> dict[str, Any]:
    period = now_period(runtime)
    async with runtime.unit_of_work(correlation_id=correlation) as uow:
        partner = await _offer_partner(uow.session, caller, offer_id)
        accepted = await seats.seats_accepted(uow.session, offer_id, period)
        if body.seats < accepted:
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                detail=f"seats: {accepted} members have accepted a seat in {period}; the offer cannot have fewer",
            )
        await registry.replace_offer(uow.session, _offer_row(partner.id, body, offer_id))
        await after_offers_changed(uow, narrowed(runtime.settings, MatchmakingSettings), EVERYTHING, [offer_id])
    return await _offer_view(runtime, EVERYTHING, offer_id)


@router.delete("/offers/{offer_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["offers"])
async def delete_offer(
    offer_id: Ident, runtime: Runtime, correlation: CorrelationId, caller: Caller, _: Writer
) -> Response:
    async with runtime.unit_of_work(correlation_id=correlation) as uow:
        await _offer_partner(uow.session, caller, offer_id)
        await registry.delete_offer(uow.session, offer_id)
        await after_offers_changed(uow, narrowed(runtime.settings, MatchmakingSettings), EVERYTHING, [offer_id])
    return Response(status_code=status.HTTP_204_NO_CONTENT)
