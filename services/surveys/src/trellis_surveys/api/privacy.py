"""Privacy routes of the surveys API: erase one contact (a cluster's manager) and export everything surveys
holds about a contact (platform admins; the right of access is answered centrally with ``trellis privacy
export``). Erasing a whole member is ``DELETE /members/{member_id}``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from trellis_common.app import CorrelationId, Runtime, not_found
from trellis_common.auth import Admin, Writer
from trellis_surveys.privacy import contact_export, forget_contacts
from trellis_surveys.recording import member_changed
from trellis_surveys.repositories.directory import load_member, remove_contact

router = APIRouter(tags=["privacy"])


@router.delete(
    "/members/{member_id}/contacts/{contact_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Erase a contact and what surveys keeps about them (publishes surveys.member.changed without it)",
)
async def erase_contact(
    member_id: str, contact_id: str, runtime: Runtime, scope: Writer, correlation: CorrelationId
) -> None:
    async with runtime.unit_of_work(correlation_id=correlation) as uow:
        member = await load_member(uow.session, scope, member_id)
        if member is None:
            raise not_found("member", member_id)
        erased = [c for c in member["contacts"] if c["id"] == contact_id]
        if not erased:
            raise not_found("contact", contact_id)
        await remove_contact(uow.session, member_id, contact_id, uow.now)
        await forget_contacts(uow, member_id, erased)
        changed = await load_member(uow.session, scope, member_id)
        assert changed is not None
        uow.emit(member_changed(changed))


@router.get(
    "/privacy/contacts/{contact_id}",
    summary="Everything surveys holds about a contact, as JSON (platform admins; right of access)",
)
async def export_contact(contact_id: str, runtime: Runtime, _admin: Admin) -> dict[str, Any]:
    async with runtime.db.sessions() as session:
        data = await contact_export(session, contact_id)
    found = data["contact"] is not None or bool(data["invitations"])
    return {"service": "surveys", "contact_id": contact_id, "found": found, "data": data}
