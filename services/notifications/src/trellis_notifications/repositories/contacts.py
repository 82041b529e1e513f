"""The contact directory, projected from surveys.member.changed: who may be emailed, in which cluster and
language, and so who an email's audience is."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, insert, or_, select, true
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.auth import Scope
from trellis_common.events import ContactRole, MemberChanged
from trellis_common.repositories.in_list import in_list
from trellis_notifications.composer import Recipient
from trellis_notifications.domain.deliveries import Audience, AudienceKind
from trellis_notifications.models import contacts

_RECIPIENT_COLUMNS = (
    contacts.c.contact_id,
    contacts.c.member_id,
    contacts.c.cluster_id,
    contacts.c.name,
    contacts.c.email,
    contacts.c.language,
)
_AUDIENCE_ROLES: dict[AudienceKind, tuple[ContactRole, ...]] = {
    AudienceKind.CLUSTER: (ContactRole.CLUSTER_MANAGER,),
    AudienceKind.BOARD: (ContactRole.CLUSTER_MANAGER, ContactRole.BOARD_MEMBER),
}


def contacts_in(scope: Scope, column: ColumnElement[Any]) -> ColumnElement[bool]:
    """A WHERE condition keeping rows whose contact id (``column``) is a contact of the scope's clusters.

    Platform-wide scopes need no lookup, so the service's own work behaves exactly as before, including on
    rows of contacts that are just being erased.
    """
    if scope.platform_wide:
        return true()
    return column.in_(select(contacts.c.contact_id).where(scope.clause(contacts.c.cluster_id)))


async def find_contact(session: AsyncSession, scope: Scope, contact_id: str) -> RowMapping | None:
    """A contact of the directory, or None when it is unknown or outside the scope (the same to the caller)."""
    query = select(contacts).where(contacts.c.contact_id == contact_id, scope.clause(contacts.c.cluster_id))
    return (await session.execute(query)).mappings().first()


async def contacts_by_id(session: AsyncSession, scope: Scope, contact_ids: Sequence[str]) -> dict[str, RowMapping]:
    """The contacts of the directory among ``contact_ids`` (those outside the scope left out), by id."""
    rows = await session.execute(
        select(contacts).where(in_list(contacts.c.contact_id, contact_ids), scope.clause(contacts.c.cluster_id))
    )
    return {row["contact_id"]: row for row in rows.mappings()}


async def recipients_of(
    session: AsyncSession, cluster_id: str | None, audience: Audience, also: Sequence[str] = ()
) -> list[Recipient]:
    """The contacts an email goes to, only ever within the event's cluster: an event naming another cluster's
    member or contact (a mistaken or hostile producer) must not reach that cluster's people."""
    query = select(*_RECIPIENT_COLUMNS)
    if audience.kind is AudienceKind.MEMBER:
        condition = contacts.c.member_id == audience.ident
    elif audience.kind in _AUDIENCE_ROLES:
        roles = [role.value for role in _AUDIENCE_ROLES[audience.kind]]
        condition = (contacts.c.cluster_id == audience.ident) & contacts.c.role.in_(roles)
    else:
        condition = contacts.c.contact_id == audience.ident
    if also:
        condition = or_(condition, contacts.c.contact_id.in_(list(also)))
    if cluster_id is not None:
        condition = and_(condition, contacts.c.cluster_id == cluster_id)
    rows = await session.execute(query.where(condition).order_by(contacts.c.contact_id))
    return [Recipient(**row) for row in rows.mappings()]


async def recipients_of_members(session: AsyncSession, member_ids: Iterable[str]) -> dict[str, list[Recipient]]:
    """Every contact of these members, by member, in one query (whatever their clusters: the caller keeps
    those of the event's cluster)."""
    by_member: dict[str, list[Recipient]] = {}
    rows = await session.execute(
        select(*_RECIPIENT_COLUMNS)
        .where(in_list(contacts.c.member_id, sorted(set(member_ids))))
        .order_by(contacts.c.contact_id)
    )
    for row in rows.mappings():
        by_member.setdefault(row["member_id"], []).append(Recipient(**row))
    return by_member


async def last_change_of(session: AsyncSession, member_id: str) -> datetime | None:
    """When the member's contacts now on file were changed in surveys (None: it has none)."""
    newest: datetime | None = await session.scalar(
        select(func.max(contacts.c.updated_at)).where(contacts.c.member_id == member_id)
    )
    return newest


async def contact_ids_of(session: AsyncSession, member_id: str) -> list[str]:
    """The ids of the member's contacts on file."""
    return list(
        (await session.execute(select(contacts.c.contact_id).where(contacts.c.member_id == member_id))).scalars()
    )


async def replace_contacts(session: AsyncSession, changed: MemberChanged, changed_at: datetime) -> None:
    """The member's contacts become those ``changed`` lists; a listed contact that was another member's moves."""
    contact_ids = [c.contact_id for c in changed.contacts]
    await session.execute(
        delete(contacts).where(or_(contacts.c.member_id == changed.member_id, contacts.c.contact_id.in_(contact_ids)))
    )
    if changed.contacts:
        await session.execute(
            insert(contacts),
            [
                {
                    "contact_id": c.contact_id,
                    "member_id": changed.member_id,
                    "cluster_id": changed.cluster_id,
                    "name": c.name,
                    "email": str(c.email),
                    "language": c.language,
                    "role": c.role.value,
                    "updated_at": changed_at,
                }
                for c in changed.contacts
            ],
        )
