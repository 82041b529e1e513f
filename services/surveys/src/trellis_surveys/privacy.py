"""Personal data surveys keeps about a contact, its erasure and its export (GDPR Art. 15 and 17).

What surveys holds about a person: the contact row (name, email, language, role); the invitations addressed to
them (with a saved draft of answers); the outbox rows of events that named them (surveys.member.changed carries
names and addresses, surveys.invitation.requested the contact id and a signed link). Responses belong to the
member company and name no person; an invitation links a response to whoever was invited.

Erasing a contact deletes the contact row and, in the same transaction, anonymises its invitations (the
contact id becomes ``erased:<invitation id>``, the draft goes, no reminder is due; the row stays so a
campaign's counts do not change, and its signed link stops working), deletes the outbox rows that mention the
person (published ones, and unpublished surveys.member.changed / surveys.invitation.requested rows of the
member, which the new state supersedes), and publishes the member without the contact on the compacted
surveys.member.changed topic: every consumer forgets a contact that leaves its member.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from trellis_common.catalogue import spec_for_model
from trellis_common.events import InvitationRequested, MemberChanged
from trellis_common.logging import get_logger
from trellis_common.privacy import name_needles, needles_of, purge_outbox
from trellis_common.unit_of_work import UnitOfWork
from trellis_surveys.repositories.privacy import (
    ERASED_PREFIX,
    anonymise_contacts_invitations,
    anonymise_member_invitations,
    contact_records,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

log = get_logger(__name__)
SUPERSEDED = (spec_for_model(MemberChanged).type, spec_for_model(InvitationRequested).type)


def is_erased(contact_id: str) -> bool:
    """True for an invitation whose contact was erased: its link no longer opens the form."""
    return contact_id.startswith(ERASED_PREFIX)


async def forget_contacts(uow: UnitOfWork, member_id: str, people: Sequence[dict[str, Any]]) -> int:
    """Erase what surveys keeps about these contacts of ``member_id`` besides their rows (the caller deletes
    or has deleted those); returns how many outbox rows went. Runs in the caller's transaction."""
    if not people:
        return 0
    ids = [str(person["id"]) for person in people]
    await anonymise_contacts_invitations(uow.session, ids)
    needles = needles_of(*ids, *(p["email"] for p in people)) + name_needles(*(p["name"] for p in people))
    purged = await purge_outbox(uow.session, needles, keys=[member_id], superseded_types=SUPERSEDED)
    log.info("contacts_erased", member_id=member_id, contacts=len(ids), outbox_rows_purged=purged)
    return purged


async def forget_member(uow: UnitOfWork, member_id: str, people: Sequence[dict[str, Any]]) -> int:
    """The member is deleted: its invitations are anonymised and every outbox row of its key that is published
    (or superseded by the tombstone) goes; returns how many outbox rows went. Runs in the caller's transaction."""
    await anonymise_member_invitations(uow.session, member_id)
    needles = needles_of(member_id, *(str(p["id"]) for p in people), *(p["email"] for p in people))
    needles += name_needles(*(p["name"] for p in people))
    purged = await purge_outbox(uow.session, needles, keys=[member_id], superseded_types=SUPERSEDED)
    log.info("member_erased", member_id=member_id, contacts=len(people), outbox_rows_purged=purged)
    return purged


async def contact_export(session: AsyncSession, contact_id: str) -> dict[str, Any]:
    """Everything surveys holds about one contact, as JSON-ready data (empty lists once erased)."""
    found = await contact_records(session, contact_id)
    return {
        "contact": _jsonable(found.contact),
        "member": _jsonable(found.member),
        "invitations": [_jsonable(i) for i in found.invitations],
        "responses_through_invitations": [_jsonable(r) for r in found.responses],
    }


def _jsonable(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {key: value.isoformat() if hasattr(value, "isoformat") else value for key, value in row.items()}
