"""Right of access on the notifications API: everything the service holds about a contact, for platform
admins (``trellis privacy export`` collects it from every service). Erasure arrives by event (see
``privacy.py``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from trellis_common.app import Runtime
from trellis_common.auth import Admin
from trellis_notifications.privacy import contact_export

router = APIRouter(tags=["privacy"])


@router.get(
    "/privacy/contacts/{contact_id}",
    summary="Everything notifications holds about a contact, as JSON (platform admins; right of access)",
)
async def export_contact(contact_id: str, runtime: Runtime, _admin: Admin) -> dict[str, Any]:
    async with runtime.db.sessions() as session:
        data = await contact_export(session, contact_id)
    found = any(bool(value) for value in data.values())
    return {"service": "notifications", "contact_id": contact_id, "found": found, "data": data}
