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
from typing import Any

from sqlalchemy import String, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.catalogue import spec_for_model
from trellis_common.events import InvitationRequested, MemberChanged
from trellis_common.logging import get_logger
from trellis_common.privacy import ERASED, name_needles, needles_of, purge_outbox
from trellis_common.unit_of_work import UnitOfWork
from trellis_surveys.models import campaigns, contacts, invitations, members, responses

log = get_logger(__name__)
ERASED_PREFIX = f"{ERASED}:"
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
    await uow.session.execute(
        update(invitations)
        .where(invitations.c.contact_id.in_(ids))
        .values(
            contact_id=literal(ERASED_PREFIX, String) + invitations.c.id,
            draft=None,
            draft_saved_at=None,
            next_reminder_at=None,
        )
    )
    needles = needles_of(*ids, *(p["email"] for p in people)) + name_needles(*(p["name"] for p in people))
    purged = await purge_outbox(uow.session, needles, keys=[member_id], superseded_types=SUPERSEDED)
    log.info("contacts_erased", member_id=member_id, contacts=len(ids), outbox_rows_purged=purged)
    return purged


async def forget_member(uow: UnitOfWork, member_id: str, people: Sequence[dict[str, Any]]) -> int:
    """The member is deleted: its invitations are anonymised and every outbox row of its key that is published
    (or superseded by the tombstone) goes; returns how many outbox rows went. Runs in the caller's transaction."""
    await uow.session.execute(
        update(invitations)
        .where(invitations.c.member_id == member_id, invitations.c.contact_id.not_like(f"{ERASED_PREFIX}%"))
        .values(
            contact_id=literal(ERASED_PREFIX, String) + invitations.c.id,
            draft=None,
            draft_saved_at=None,
            next_reminder_at=None,
        )
    )
    needles = needles_of(member_id, *(str(p["id"]) for p in people), *(p["email"] for p in people))
    needles += name_needles(*(p["name"] for p in people))
    purged = await purge_outbox(uow.session, needles, keys=[member_id], superseded_types=SUPERSEDED)
    log.info("member_erased", member_id=member_id, contacts=len(people), outbox_rows_purged=purged)
    return purged


async def contact_export(session: AsyncSession, contact_id: str) -> dict[str, Any]:
    """Everything surveys holds about one contact, as JSON-ready data (empty lists once erased)."""
    contact = (await session.execute(select(contacts).where(contacts.c.id == contact_id))).mappings().first()
    member = None
    if contact is not None:
        member = (
            (
                await session.execute(
                    select(members.c.id, members.c.name, members.c.cluster_id).where(
                        members.c.id == contact["member_id"]
                    )
                )
            )
            .mappings()
            .first()
        )
    invited = (
        (
            await session.execute(
                select(invitations, campaigns.c.title.label("campaign_title"))
                .join(campaigns, campaigns.c.id == invitations.c.campaign_id)
                .where(invitations.c.contact_id == contact_id)
                .order_by(invitations.c.invited_at)
            )
        )
        .mappings()
        .all()
    )
    answered: Sequence[Any] = []
    if invited:
        answered = (
            (
                await session.execute(
                    select(
                        responses.c.id,
                        responses.c.campaign_id,
                        responses.c.template_id,
                        responses.c.template_version,
                        responses.c.theme,
                        responses.c.completed_at,
                    ).where(responses.c.invitation_id.in_([i["id"] for i in invited]))
                )
            )
            .mappings()
            .all()
        )
    return {
        "contact": _jsonable(contact),
        "member": _jsonable(member),
        "invitations": [_jsonable(i) for i in invited],
        "responses_through_invitations": [_jsonable(r) for r in answered],
    }


def _jsonable(row: Any) -> dict[str, Any] | None:
    if row is None:
        return None
    return {key: value.isoformat() if hasattr(value, "isoformat") else value for key, value in dict(row).items()}
