"""REST API of the surveys service: the cluster directory and completed responses."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.app import CorrelationId, Runtime, not_found
from trellis_common.catalogue import spec_for_model
from trellis_common.events import Contact, MemberChanged, MemberContext, ResponseCompleted
from trellis_common.unit_of_work import UnitOfWork
from trellis_surveys.models import clusters, contacts, members, responses
from trellis_surveys.schemas import (
    ClusterIn,
    ClusterOut,
    MemberIn,
    MemberOut,
    MemberPage,
    ResponseIn,
    ResponseOut,
)

router = APIRouter()


def _new_id() -> str:
    return str(uuid.uuid4())


@router.post("/clusters", status_code=status.HTTP_201_CREATED, response_model=ClusterOut, tags=["directory"])
async def create_cluster(body: ClusterIn, runtime: Runtime) -> dict[str, Any]:
    row = {"id": _new_id(), **body.model_dump(), "created_at": runtime.clock.now()}
    async with runtime.unit_of_work() as uow:
        await uow.session.execute(insert(clusters).values(row))
    return row


@router.get("/clusters/{cluster_id}", response_model=ClusterOut, tags=["directory"])
async def get_cluster(cluster_id: str, runtime: Runtime) -> dict[str, Any]:
    async with runtime.db.sessions() as session:
        row = (await session.execute(select(clusters).where(clusters.c.id == cluster_id))).mappings().first()
    if row is None:
        raise not_found("cluster", cluster_id)
    return dict(row)


async def _load_member(session: AsyncSession, member_id: str) -> dict[str, Any] | None:
    row = (await session.execute(select(members).where(members.c.id == member_id))).mappings().first()
    if row is None:
        return None
    people = (await session.execute(select(contacts).where(contacts.c.member_id == member_id))).mappings().all()
    return {**row, "contacts": [dict(c) for c in people]}


def _member_changed(member: dict[str, Any]) -> MemberChanged:
    return MemberChanged(
        cluster_id=member["cluster_id"],
        member_id=member["id"],
        name=member["name"],
        context=MemberContext(
            country=member["country"],
            region=member["region"],
            size_class=member["size_class"],
            sector=member["sector"],
            member_type=member["member_type"],
            languages=member["languages"],
        ),
        contacts=[
            Contact(contact_id=c["id"], name=c["name"], email=c["email"], language=c["language"], role=c["role"])
            for c in member["contacts"]
        ],
        changed_at=member["updated_at"],
    )


async def _write_member(uow: UnitOfWork, member_id: str, cluster_id: str, body: MemberIn) -> dict[str, Any]:
    fields = body.model_dump(exclude={"contacts"})
    now = uow.now
    exists = await uow.session.scalar(select(members.c.id).where(members.c.id == member_id))
    if exists:
        await uow.session.execute(update(members).where(members.c.id == member_id).values(**fields, updated_at=now))
        await uow.session.execute(delete(contacts).where(contacts.c.member_id == member_id))
    else:
        await uow.session.execute(
            insert(members).values(id=member_id, cluster_id=cluster_id, **fields, created_at=now, updated_at=now)
        )
    people = [{"id": _new_id(), "member_id": member_id, **c.model_dump()} for c in body.contacts]
    if people:
        await uow.session.execute(insert(contacts), people)
    member = await _load_member(uow.session, member_id)
    assert member is not None
    uow.emit(_member_changed(member))
    return member


@router.post(
    "/clusters/{cluster_id}/members",
    status_code=status.HTTP_201_CREATED,
    response_model=MemberOut,
    tags=["directory"],
    summary="Register a member organisation with its contacts (publishes surveys.member.changed)",
)
async def create_member(
    cluster_id: str, body: MemberIn, runtime: Runtime, correlation: CorrelationId
) -> dict[str, Any]:
    async with runtime.unit_of_work(correlation_id=correlation) as uow:
        if not await uow.session.scalar(select(clusters.c.id).where(clusters.c.id == cluster_id)):
            raise not_found("cluster", cluster_id)
        return await _write_member(uow, _new_id(), cluster_id, body)


@router.get("/clusters/{cluster_id}/members", response_model=MemberPage, tags=["directory"])
async def list_members(
    cluster_id: str,
    runtime: Runtime,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
    country: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$")] = None,
) -> dict[str, Any]:
    where = [members.c.cluster_id == cluster_id]
    if country:
        where.append(members.c.country == country)
    async with runtime.db.sessions() as session:
        total = await session.scalar(select(func.count()).select_from(members).where(*where))
        ids = (
            await session.scalars(
                select(members.c.id).where(*where).order_by(members.c.name, members.c.id).limit(limit).offset(offset)
            )
        ).all()
        items = [await _load_member(session, member_id) for member_id in ids]
    return {"items": items, "total": total or 0, "limit": limit, "offset": offset}


@router.get("/members/{member_id}", response_model=MemberOut, tags=["directory"])
async def get_member(member_id: str, runtime: Runtime) -> dict[str, Any]:
    async with runtime.db.sessions() as session:
        member = await _load_member(session, member_id)
    if member is None:
        raise not_found("member", member_id)
    return member


@router.put("/members/{member_id}", response_model=MemberOut, tags=["directory"])
async def replace_member(
    member_id: str, body: MemberIn, runtime: Runtime, correlation: CorrelationId
) -> dict[str, Any]:
    async with runtime.unit_of_work(correlation_id=correlation) as uow:
        cluster_id = await uow.session.scalar(select(members.c.cluster_id).where(members.c.id == member_id))
        if cluster_id is None:
            raise not_found("member", member_id)
        return await _write_member(uow, member_id, cluster_id, body)


@router.delete(
    "/members/{member_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["directory"],
    summary="Delete a member and its contacts (publishes a tombstone)",
)
async def delete_member(member_id: str, runtime: Runtime, correlation: CorrelationId) -> None:
    async with runtime.unit_of_work(correlation_id=correlation) as uow:
        deleted = await uow.session.execute(delete(members).where(members.c.id == member_id))
        if deleted.rowcount == 0:  # type: ignore[attr-defined]
            raise not_found("member", member_id)
        await uow.session.execute(delete(contacts).where(contacts.c.member_id == member_id))
        uow.emit_tombstone(spec_for_model(MemberChanged), member_id)


@router.post(
    "/responses",
    status_code=status.HTTP_201_CREATED,
    response_model=ResponseOut,
    tags=["responses"],
    summary="Record a completed survey response (publishes surveys.response.completed)",
)
async def submit_response(body: ResponseIn, runtime: Runtime, correlation: CorrelationId) -> dict[str, Any]:
    async with runtime.unit_of_work(correlation_id=correlation) as uow:
        member = await _load_member(uow.session, body.member_id)
        if member is None:
            raise not_found("member", body.member_id)
        response_id = _new_id()
        now = uow.now
        await uow.session.execute(
            insert(responses).values(
                id=response_id,
                cluster_id=member["cluster_id"],
                member_id=body.member_id,
                template_id=body.template_id,
                template_version=body.template_version,
                theme=body.theme,
                skills=[s.model_dump(mode="json") for s in body.skills],
                answers=body.answers,
                completed_at=now,
            )
        )
        event = uow.emit(
            ResponseCompleted(
                response_id=response_id,
                cluster_id=member["cluster_id"],
                member_id=body.member_id,
                template_id=body.template_id,
                template_version=body.template_version,
                theme=body.theme,
                completed_at=now,
                member_context=_member_changed(member).context,
                skills=body.skills,
                answers=body.answers,
            )
        )
    return {
        "id": response_id,
        "member_id": body.member_id,
        "cluster_id": member["cluster_id"],
        "event_id": event.id,
        "completed_at": now,
    }
