"""REST API of the surveys service: the cluster directory (with CSV import) and completed responses.

Creating a cluster is platform-wide (platform admins); everything else belongs to a cluster: its readers read
it, its managers change it, and external survey tools (integration role) or managers record responses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, UploadFile, status
from fastapi.responses import JSONResponse

from trellis_common.app import CorrelationId, Runtime, invalid, not_found, report_or_invalid
from trellis_common.auth import Admin, Reader, Role, Scope, Writer, scope_for
from trellis_common.catalogue import spec_for_model
from trellis_common.csv_upload import CsvLayoutError
from trellis_common.events import MemberChanged, MemberType, SizeClass
from trellis_common.settings import narrowed
from trellis_common.text import INT4_MAX
from trellis_common.unit_of_work import UnitOfWork
from trellis_surveys.domain.answers import AnswerError, validate_response
from trellis_surveys.domain.member_import import check_rows, read_rows
from trellis_surveys.domain.templates import TemplateStatus
from trellis_surveys.privacy import forget_contacts, forget_member
from trellis_surveys.recording import member_changed, new_id, record_response
from trellis_surveys.repositories.directory import (
    add_cluster,
    add_contacts,
    add_member,
    change_member,
    cluster_exists,
    cluster_page,
    find_cluster,
    load_member,
    load_members,
    member_cluster,
    member_names,
    member_page,
    remove_member,
    take_contacts,
)
from trellis_surveys.repositories.templates import get_template
from trellis_surveys.schemas import (
    AnnouncedOut,
    ClusterIn,
    ClusterOut,
    ClusterPage,
    ImportReport,
    ImportRowError,
    MemberIn,
    MemberOut,
    MemberPage,
    ResponseIn,
    ResponseOut,
)
from trellis_surveys.settings import SurveysSettings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

router = APIRouter()

# Completed responses come from external survey tools (integration tokens) or a cluster's manager.
Responder = Annotated[Scope, Depends(scope_for(Role.CLUSTER_MANAGER, Role.INTEGRATION))]


async def require_cluster(session: AsyncSession, scope: Scope, cluster_id: str) -> None:
    """404 unless the cluster exists and is in scope (another cluster's id answers as an unknown one)."""
    if not await cluster_exists(session, scope, cluster_id):
        raise not_found("cluster", cluster_id)


def unprocessable(errors: list[AnswerError]) -> HTTPException:
    """A 422 in FastAPI's own shape, so clients read template errors like any other validation error."""
    detail = [
        {"loc": ["body", *_path(e.field)], "field": e.field, "msg": e.message, "type": "value_error"} for e in errors
    ]
    return HTTPException(status_code=422, detail=detail)


def _path(field: str) -> list[str | int]:
    parts = field.replace("[", ".").replace("]", "").split(".")
    return [int(p) if p.isdigit() else p for p in parts]


@router.post("/clusters", status_code=status.HTTP_201_CREATED, response_model=ClusterOut, tags=["directory"])
async def create_cluster(body: ClusterIn, runtime: Runtime, _scope: Admin) -> dict[str, Any]:
    row = {"id": new_id(), **body.model_dump(), "created_at": runtime.clock.now()}
    async with runtime.unit_of_work() as uow:
        await add_cluster(uow.session, row)
    return row


@router.post(
    "/admin/members/announce",
    response_model=AnnouncedOut,
    tags=["directory"],
    summary="Publish every member's current state on surveys.member.changed again (platform admins)",
    responses={404: {"description": "The cluster does not exist"}},
)
async def announce_members(
    runtime: Runtime, scope: Admin, correlation: CorrelationId, cluster_id: str | None = None
) -> dict[str, Any]:
    """For an upgrade that added fields to the event (cluster_name): the other services' copies of the
    directory become complete. Every member (of ``cluster_id``, when given) is announced as it is now, so
    consumers that already hold that state change nothing, and a repeat is harmless."""
    async with runtime.unit_of_work(correlation_id=correlation) as uow:
        if cluster_id is not None:
            await require_cluster(uow.session, scope, cluster_id)
        found = await load_members(uow.session, scope, cluster_id)
        for member in found:
            uow.emit(member_changed(member))
    return {"announced": len(found), "clusters": len({m["cluster_id"] for m in found})}


@router.get(
    "/clusters",
    response_model=ClusterPage,
    tags=["directory"],
    summary="The clusters the caller may read (every cluster for platform admins), by name",
)
async def list_clusters(
    runtime: Runtime,
    scope: Reader,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=INT4_MAX)] = 0,
    q: Annotated[str | None, Query(max_length=100, description="Part of the cluster's name")] = None,
) -> dict[str, Any]:
    async with runtime.db.sessions() as session:
        total, items = await cluster_page(session, scope, limit=limit, offset=offset, name_part=q)
    return {"items": items, "total": total, "limit": limit, "offset": offset}


@router.get("/clusters/{cluster_id}", response_model=ClusterOut, tags=["directory"])
async def get_cluster(cluster_id: str, runtime: Runtime, scope: Reader) -> dict[str, Any]:
    async with runtime.db.sessions() as session:
        row = await find_cluster(session, scope, cluster_id)
    if row is None:
        raise not_found("cluster", cluster_id)
    return row


def _member_row(body: MemberIn) -> dict[str, Any]:
    return body.model_dump(mode="json", exclude={"contacts"})


async def _write_member(
    uow: UnitOfWork, scope: Scope, member_id: str, cluster_id: str, body: MemberIn
) -> dict[str, Any]:
    """Create or replace a member of ``cluster_id``; the route has checked the cluster is in ``scope``."""
    if not scope.allows(cluster_id):
        raise PermissionError(f"cluster {cluster_id!r} is outside the caller's scope")
    fields = _member_row(body)
    now = uow.now
    exists = await member_cluster(uow.session, scope, member_id)
    previous: list[dict[str, Any]] = []
    if exists:
        await change_member(uow.session, scope, member_id, fields, now)
        previous = await take_contacts(uow.session, member_id)
    else:
        await add_member(uow.session, member_id, cluster_id, fields, now)
    # A contact keeps its id while its address stays (invitations and people's choices refer to it); a contact
    # left out of the new list is erased here and, through surveys.member.changed, everywhere.
    ids_by_address: dict[str, list[str]] = {}
    for row in previous:
        ids_by_address.setdefault(str(row["email"]).casefold(), []).append(str(row["id"]))
    people = [
        {"id": (ids_by_address.get(str(c.email).casefold()) or [new_id()]).pop(0), "member_id": member_id}
        | c.model_dump(mode="json")
        for c in body.contacts
    ]
    if people:
        await add_contacts(uow.session, people)
    kept = {p["id"] for p in people}
    await forget_contacts(uow, member_id, [row for row in previous if row["id"] not in kept])
    member = await load_member(uow.session, scope, member_id)
    assert member is not None
    uow.emit(member_changed(member))
    return _with_card(member)


def _with_card(member: dict[str, Any]) -> dict[str, Any]:
    # Rows written before the member card existed hold NULL lists.
    return {**member, **{k: member.get(k) or [] for k in ("jobs_to_be_done", "pain_points", "ambitions")}}


@router.post(
    "/clusters/{cluster_id}/members",
    status_code=status.HTTP_201_CREATED,
    response_model=MemberOut,
    tags=["directory"],
    summary="Register a member organisation with its contacts (publishes surveys.member.changed)",
)
async def create_member(
    cluster_id: str, body: MemberIn, runtime: Runtime, scope: Writer, correlation: CorrelationId
) -> dict[str, Any]:
    async with runtime.unit_of_work(correlation_id=correlation) as uow:
        await require_cluster(uow.session, scope, cluster_id)
        return await _write_member(uow, scope, new_id(), cluster_id, body)


@router.post(
    "/clusters/{cluster_id}/members/import",
    response_model=ImportReport,
    status_code=status.HTTP_201_CREATED,
    tags=["directory"],
    summary="Import a member list from CSV: all rows or none, with a per-row error report",
    responses={422: report_or_invalid(ImportReport, "Nothing imported; the rows to fix and why")},
)
async def import_members(
    cluster_id: str, file: UploadFile, runtime: Runtime, scope: Writer, correlation: CorrelationId
) -> Any:
    settings = narrowed(runtime.settings, SurveysSettings)
    content = await file.read(settings.import_max_bytes + 1)
    if len(content) > settings.import_max_bytes:
        raise HTTPException(
            status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            detail=f"file: larger than {settings.import_max_bytes} bytes; split it",
        )
    try:
        rows = read_rows(content, settings.import_max_rows)
    except CsvLayoutError as exc:
        raise invalid("file", str(exc)) from None
    async with runtime.unit_of_work(correlation_id=correlation) as uow:
        await require_cluster(uow.session, scope, cluster_id)
        names = await member_names(uow.session, scope, cluster_id)
        check = check_rows(rows, MemberIn, {n.casefold() for n in names}, lambda m: m.name)
        if check.errors:
            errors = [
                ImportRowError(row=e.row, field=e.field, message=e.message, kind=e.kind, context=e.context)
                for e in check.errors
            ]
            report = ImportReport(imported=0, rows_checked=len(rows), bad_rows=check.bad_rows, errors=errors)
            return JSONResponse(report.model_dump(), status_code=422)
        ids = [(await _write_member(uow, scope, new_id(), cluster_id, member))["id"] for member in check.members]
    return ImportReport(imported=len(ids), member_ids=ids, rows_checked=len(rows))


@router.get("/clusters/{cluster_id}/members", response_model=MemberPage, tags=["directory"])
async def list_members(
    cluster_id: str,
    runtime: Runtime,
    scope: Reader,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=INT4_MAX)] = 0,
    country: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$")] = None,
    member_type: MemberType | None = None,
    size_class: SizeClass | None = None,
    sector: Annotated[str | None, Query(max_length=16, description="NACE code or its prefix, e.g. C or C25")] = None,
    region: Annotated[str | None, Query(max_length=64)] = None,
    q: Annotated[str | None, Query(max_length=100, description="Part of the member's name")] = None,
) -> dict[str, Any]:
    async with runtime.db.sessions() as session:
        await require_cluster(session, scope, cluster_id)
        total, ids = await member_page(
            session,
            scope,
            cluster_id,
            limit=limit,
            offset=offset,
            country=country,
            member_type=member_type,
            size_class=size_class,
            sector=sector,
            region=region,
            name_part=q,
        )
        loaded = {m["id"]: m for m in await load_members(session, scope, cluster_id, member_ids=ids)}
    items = [loaded[member_id] for member_id in ids if member_id in loaded]  # the page's order, by name
    return {"items": [_with_card(m) for m in items], "total": total, "limit": limit, "offset": offset}


@router.get("/members/{member_id}", response_model=MemberOut, tags=["directory"])
async def get_member(member_id: str, runtime: Runtime, scope: Reader) -> dict[str, Any]:
    async with runtime.db.sessions() as session:
        member = await load_member(session, scope, member_id)
    if member is None:
        raise not_found("member", member_id)
    return _with_card(member)


@router.put("/members/{member_id}", response_model=MemberOut, tags=["directory"])
async def replace_member(
    member_id: str, body: MemberIn, runtime: Runtime, scope: Writer, correlation: CorrelationId
) -> dict[str, Any]:
    async with runtime.unit_of_work(correlation_id=correlation) as uow:
        cluster_id = await member_cluster(uow.session, scope, member_id)
        if cluster_id is None:
            raise not_found("member", member_id)
        return await _write_member(uow, scope, member_id, cluster_id, body)


@router.delete(
    "/members/{member_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["directory"],
    summary="Delete a member and its contacts (publishes a tombstone)",
)
async def delete_member(member_id: str, runtime: Runtime, scope: Writer, correlation: CorrelationId) -> None:
    async with runtime.unit_of_work(correlation_id=correlation) as uow:
        if not await remove_member(uow.session, scope, member_id):
            raise not_found("member", member_id)
        people = await take_contacts(uow.session, member_id)
        await forget_member(uow, member_id, people)
        uow.emit_tombstone(spec_for_model(MemberChanged), member_id)


@router.post(
    "/responses",
    status_code=status.HTTP_201_CREATED,
    response_model=ResponseOut,
    tags=["responses"],
    summary="Record a completed response, checked against its template (publishes surveys.response.completed)",
)
async def submit_response(
    body: ResponseIn, runtime: Runtime, scope: Responder, correlation: CorrelationId
) -> dict[str, Any]:
    async with runtime.unit_of_work(correlation_id=correlation) as uow:
        stored = await get_template(uow.session, scope, body.template_id, body.template_version)
        if stored is None or stored.status is not TemplateStatus.PUBLISHED:
            raise unprocessable(
                [
                    AnswerError(
                        field="template_id",
                        message=(f"no published template {body.template_id!r} version {body.template_version}"),
                    )
                ]
            )
        template = stored.template
        if body.theme != template.theme:
            raise unprocessable([AnswerError(field="theme", message=f"template {template.id} is for {template.theme}")])
        # Rows are on the template matrix's scale (checked against its range); the event says which.
        rows = [s.model_dump(exclude={"level_scale_max"}) for s in body.skills]
        validated, errors = validate_response(template, body.answers, rows)
        if validated is None:
            raise unprocessable(errors)
        member = await load_member(uow.session, scope, body.member_id)
        if member is None:
            raise not_found("member", body.member_id)
        if stored.cluster_id is not None and stored.cluster_id != member["cluster_id"]:
            raise unprocessable([AnswerError(field="template_id", message="belongs to another cluster")])
        recorded = await record_response(uow, member, template, validated)
    return {
        "id": recorded.response_id,
        "member_id": body.member_id,
        "cluster_id": member["cluster_id"],
        "event_id": recorded.event_id,
        "completed_at": recorded.completed_at,
    }
