"""A person's data in the surveys tables: anonymising the invitations of erased contacts, and reading all that
is held about one contact for an export.

An erased contact's invitation stays (a campaign's counts do not change) with the contact id
``erased:<invitation id>``, no draft and no reminder due.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.privacy import ERASED
from trellis_surveys.models import campaigns, contacts, invitations, members, responses

ERASED_PREFIX = f"{ERASED}:"
_ANONYMOUS = {
    "contact_id": literal(ERASED_PREFIX, String) + invitations.c.id,
    "draft": None,
    "draft_saved_at": None,
    "next_reminder_at": None,
}


async def anonymise_contacts_invitations(session: AsyncSession, contact_ids: Sequence[str]) -> None:
    await session.execute(update(invitations).where(invitations.c.contact_id.in_(contact_ids)).values(_ANONYMOUS))


async def anonymise_member_invitations(session: AsyncSession, member_id: str) -> None:
    """Every invitation of the member's contacts, but those anonymised already."""
    await session.execute(
        update(invitations)
        .where(invitations.c.member_id == member_id, invitations.c.contact_id.not_like(f"{ERASED_PREFIX}%"))
        .values(_ANONYMOUS)
    )


@dataclass(frozen=True)
class ContactRecords:
    """The rows that name one contact, or lead to it."""

    contact: dict[str, Any] | None
    member: dict[str, Any] | None  # id, name and cluster of the contact's member
    invitations: list[dict[str, Any]]  # each with its campaign's title (``campaign_title``)
    responses: list[dict[str, Any]]  # those sent through the invitations (their ids and what was answered)


async def contact_records(session: AsyncSession, contact_id: str) -> ContactRecords:
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
    return ContactRecords(
        contact=dict(contact) if contact is not None else None,
        member=dict(member) if member is not None else None,
        invitations=[dict(i) for i in invited],
        responses=[dict(r) for r in answered],
    )
